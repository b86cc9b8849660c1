#include "agentprotocol.h"

#include <QCryptographicHash>
#include <QJsonDocument>
#include <QJsonParseError>
#include <QMessageAuthenticationCode>

#include "protocol/chatlog.h"

namespace Lockstep::Workspace::Wire
{
    namespace
    {
        QJsonObject tool(const QString &name, const QString &description, const QJsonObject &args)
        {
            return QJsonObject{{QStringLiteral("name"), name},
                               {QStringLiteral("description"), description},
                               {QStringLiteral("args"), args}};
        }
    }  // namespace

    QByteArray helloProof(const QByteArray &secret, const QByteArray &challenge)
    {
        return QMessageAuthenticationCode::hash("lockstep-agent-hello:" + challenge, secret, QCryptographicHash::Sha256)
            .toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals);
    }

    bool sameBytes(const QByteArray &a, const QByteArray &b)
    {
        if (a.size() != b.size())
            return false;
        unsigned char difference = 0;
        for (qsizetype i = 0; i < a.size(); ++i)
            difference |= static_cast<unsigned char>(a.at(i) ^ b.at(i));
        return difference == 0;
    }

    QJsonArray toolDescriptions()
    {
        return QJsonArray{
            tool(Tools::ReadFile, QStringLiteral("Read a text file of the workspace (at most 64 KiB are returned)."),
                 {{QStringLiteral("path"), QStringLiteral("string")}}),
            tool(Tools::WriteFile,
                 QStringLiteral("Write a text file in the workspace (at most 1 MiB); the folder must exist."),
                 {{QStringLiteral("path"), QStringLiteral("string")},
                  {QStringLiteral("content"), QStringLiteral("string")}}),
            tool(Tools::ListDir, QStringLiteral("List a folder of the workspace (at most 1000 entries)."),
                 {{QStringLiteral("path"), QStringLiteral("string, default \".\"")}}),
            tool(Tools::RunCommand,
                 QStringLiteral(
                     "Run a program in the workspace folder; it is killed with its process group at the time limit."),
                 {{QStringLiteral("argv"), QStringLiteral("array of strings (or program + arguments)")},
                  {QStringLiteral("timeoutMs"), QStringLiteral("integer, optional")},
                  {QStringLiteral("cwd"), QStringLiteral("string, optional")}}),
        };
    }

    QByteArray encode(const QJsonObject &message)
    {
        QByteArray line = QJsonDocument(message).toJson(QJsonDocument::Compact);
        line.append('\n');
        return line;
    }

    Result<QJsonObject, QString> decode(const QByteArray &line)
    {
        QJsonParseError error{};
        const QJsonDocument document = QJsonDocument::fromJson(line, &error);
        if (error.error != QJsonParseError::NoError)
            return unexpected(QStringLiteral("not JSON: %1 at offset %2").arg(error.errorString()).arg(error.offset));
        if (!document.isObject())
            return unexpected(QStringLiteral("not a JSON object"));
        return document.object();
    }

    QJsonObject errorMessage(const ErrorBody &error, const std::optional<qint64> id)
    {
        QJsonObject body{{QStringLiteral("code"), error.code}, {QStringLiteral("message"), error.message}};
        if (!error.output.isEmpty())
            body.insert(QStringLiteral("output"), error.output);
        QJsonObject message{{QStringLiteral("error"), body}};
        if (id)
            message.insert(QStringLiteral("id"), *id);
        return message;
    }

    QString capOutput(const QByteArray &utf8, bool *cut)
    {
        if (utf8.size() <= MaxOutputBytes)
        {
            if (cut)
                *cut = false;
            return QString::fromUtf8(utf8);
        }
        if (cut)
            *cut = true;
        const qsizetype markerBytes = OutputCutMarker.toUtf8().size();
        return QString::fromUtf8(Protocol::cutUtf8(utf8, MaxOutputBytes - markerBytes)) + OutputCutMarker;
    }

    LineBuffer::LineBuffer(const qsizetype maxLineBytes)
        : m_maxLineBytes(maxLineBytes)
    {}

    bool LineBuffer::append(const QByteArray &data)
    {
        // Check every line the new data completes or extends.
        qsizetype position = m_buffer.lastIndexOf('\n') + 1;
        m_buffer.append(data);
        for (;;)
        {
            const qsizetype newline = m_buffer.indexOf('\n', position);
            if (newline < 0)
                return (m_buffer.size() - position) <= m_maxLineBytes;
            if (newline - position > m_maxLineBytes)
                return false;
            position = newline + 1;
        }
    }

    std::optional<QByteArray> LineBuffer::takeLine()
    {
        const qsizetype newline = m_buffer.indexOf('\n');
        if (newline < 0)
            return std::nullopt;
        QByteArray line = m_buffer.left(newline);
        m_buffer.remove(0, newline + 1);
        if (line.endsWith('\r'))
            line.chop(1);
        return line;
    }
}  // namespace Lockstep::Workspace::Wire
