#include "racecommand.h"

#include <cstdio>
#include <memory>

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QJsonDocument>
#include <QLoggingCategory>
#include <QSaveFile>
#include <QSettings>
#include <QTimer>

#include "common/cli.h"
#include "common/shutdownsignals.h"
#include "flows/flow.h"
#include "gatewayapi.h"
#include "profiles.h"
#include "protocol/workflowid.h"
#include "race/raceengine.h"
#include "race/reporthtml.h"

namespace Lockstep::Ui
{
    namespace
    {
        const QString GatewayOption = QStringLiteral("gateway");
        const QString WorkflowOption = QStringLiteral("workflow");
        const QString FlowOption = QStringLiteral("flow");
        const QString SessionsOption = QStringLiteral("sessions");
        const QString RoundsOption = QStringLiteral("rounds");
        const QString SpreadOption = QStringLiteral("spread-ms");
        const QString JsonOption = QStringLiteral("json");
        const QString HtmlOption = QStringLiteral("html");
        const QString AgainOption = QStringLiteral("again");
        const QString ProfileOption = QStringLiteral("profile");

        int integerOption(const QCommandLineParser &parser, const QString &name, const int fallback, const int minimum,
                          const int maximum)
        {
            if (!parser.isSet(name))
                return fallback;
            const auto value = Cli::parseInteger(parser.value(name), minimum, maximum);
            if (!value)
                Cli::failUsage(QStringLiteral("--%1: %2").arg(name, value.error()));
            return int(*value);
        }

        bool writeFile(const QString &path, const QByteArray &bytes, QString *error)
        {
            QSaveFile file(path);
            if (!file.open(QIODevice::WriteOnly) || (file.write(bytes) != bytes.size()) || !file.commit())
            {
                *error = QStringLiteral("%1: %2").arg(path, file.errorString());
                return false;
            }
            return true;
        }

        void printLine(const QString &line)
        {
            fprintf(stdout, "%s\n", qPrintable(line));
        }

        QString onOff(const bool on)
        {
            return on ? QStringLiteral("on") : QStringLiteral("off");
        }

        void printSummary(const Race::RaceReport &report)
        {
            const Race::RaceSummary summary = report.summary();
            const Race::GatewayInfo &gateway = report.gateway;
            printLine(QStringLiteral("gateway %1 (version %2, store %3, lock store %4; lock %5, CAS guards %6, "
                                     "fencing %7)")
                          .arg(gateway.url, gateway.version, gateway.store, gateway.lockStore,
                               onOff(gateway.switches.lockEnabled), onOff(gateway.switches.casGuards),
                               onOff(gateway.switches.fencing)));
            if (!gateway.switches.lockEnabled || !gateway.switches.casGuards || !gateway.switches.fencing)
                printLine(QStringLiteral("WARNING: the gateway's QA switches are off: it runs without its protection"));
            printLine(QStringLiteral("race on %1: %2 sessions, spread %3 ms")
                          .arg(report.race.flow.isEmpty()
                                   ? QString(QStringLiteral("workflow ") + report.race.workflowId)
                                   : QString(QStringLiteral("a new workflow of flow ") + report.race.flow +
                                             QStringLiteral(" each round")))
                          .arg(report.race.sessions)
                          .arg(report.race.spreadMs));
            printLine(QStringLiteral("rounds: %1 (%2 rounds/s); runners per round: min %3, max %4; rounds with "
                                     "other than one runner: %5")
                          .arg(summary.rounds)
                          .arg(summary.roundsPerSecond, 0, 'f', 2)
                          .arg(summary.minRunners)
                          .arg(summary.maxRunners)
                          .arg(summary.rounds - summary.roundsWithOneRunner));
            int shown = 0;
            for (const Race::RoundRecord &round : report.rounds)
            {
                if (round.runners == 1)
                    continue;
                if (++shown > 20)
                {
                    printLine(QStringLiteral("  ... (more in the report)"));
                    break;
                }
                QStringList ran;
                for (const Race::SessionRecord &session : round.sessions)
                {
                    if (session.ran)
                        ran << QString::number(session.index);
                }
                printLine(QStringLiteral("  round %1: %2 runners (sessions %3), workflow %4, final status %5")
                              .arg(round.index)
                              .arg(round.runners)
                              .arg(ran.isEmpty() ? QStringLiteral("none") : ran.join(QStringLiteral(", ")),
                                   round.workflowId, round.finalStatus));
            }
            printLine(QStringLiteral("findings: %1").arg(report.findings.size()));
            shown = 0;
            for (const Race::Finding &finding : report.findings)
            {
                if (++shown > 50)
                {
                    printLine(QStringLiteral("  ... (more in the report)"));
                    break;
                }
                printLine(QStringLiteral("  %1%2: %3")
                              .arg(Race::toString(finding.kind),
                                   finding.round ? QStringLiteral(" (round %1)").arg(*finding.round) : QString(),
                                   finding.detail));
            }
            const QJsonObject previous = report.previous.value(u"summary").toObject();
            if (!previous.isEmpty())
                printLine(QStringLiteral("previous report: runners min %1, max %2, findings %3, passed %4")
                              .arg(previous.value(u"minRunners").toInt())
                              .arg(previous.value(u"maxRunners").toInt())
                              .arg(previous.value(u"findings").toInt())
                              .arg(previous.value(u"passed").toBool() ? QStringLiteral("yes") : QStringLiteral("no")));
            printLine(summary.passed ? QStringLiteral("PASSED") : QStringLiteral("FAILED"));
        }

        struct Parsed
        {
            Race::RaceOptions options;
            QString profile;
            QString json;
            QString html;
        };

        Parsed parse(const QStringList &arguments)
        {
            QCommandLineParser parser;
            parser.setApplicationDescription(QStringLiteral(
                "lockstep race: open N sessions on one workflow, send a message from each within a spread, round "
                "after round; count the runners and check the history for anomalies. Exit 0 when every round had "
                "exactly one runner and nothing was found, 1 otherwise, 2 on bad arguments."));
            parser.addHelpOption();
            parser.addVersionOption();
            parser.addOptions({
                {GatewayOption,
                 QStringLiteral("Gateway URL, ws://HOST:PORT/api/v1/ws (with --again: the recorded one by default)."),
                 QStringLiteral("URL")},
                {WorkflowOption, QStringLiteral("Race on this workflow."), QStringLiteral("ID")},
                {FlowOption, QStringLiteral("Race on a new workflow of this flow each round."), QStringLiteral("NAME")},
                {SessionsOption, QStringLiteral("Sessions per round, 2..64 (default 2)."), QStringLiteral("N")},
                {RoundsOption, QStringLiteral("Rounds, 1..1000 (default 1)."), QStringLiteral("R")},
                {SpreadOption, QStringLiteral("Sessions send within this many ms, 0..500 (default 0)."),
                 QStringLiteral("S")},
                {JsonOption, QStringLiteral("Write the JSON report (docs/report.schema.json) here."),
                 QStringLiteral("FILE")},
                {HtmlOption, QStringLiteral("Write the HTML report here."), QStringLiteral("FILE")},
                {AgainOption, QStringLiteral("Repeat a recorded race: same sessions, offsets and messages."),
                 QStringLiteral("REPORT.json")},
                {ProfileOption, QStringLiteral("Take the token (and, without --gateway, the URL) from this profile."),
                 QStringLiteral("NAME")},
            });
            Cli::parseOrExit(parser, arguments);

            Parsed parsed;
            Race::RaceOptions &options = parsed.options;
            parsed.profile = parser.value(ProfileOption);
            parsed.json = parser.value(JsonOption);
            parsed.html = parser.value(HtmlOption);
            QString gatewayUrl = parser.value(GatewayOption);

            if (parser.isSet(AgainOption))
            {
                for (const QString &name : {WorkflowOption, FlowOption, SessionsOption, RoundsOption, SpreadOption})
                {
                    if (parser.isSet(name))
                        Cli::failUsage(QStringLiteral("--again repeats the recorded race; leave out --%1").arg(name));
                }
                const auto previous = Race::RaceReport::load(parser.value(AgainOption));
                if (!previous)
                    Cli::failUsage(QStringLiteral("--again: ") + previous.error());
                options = Race::RaceOptions::repeating(*previous);
                if (gatewayUrl.isEmpty())
                    gatewayUrl = previous->gateway.url;
            }
            else
            {
                if (parser.isSet(WorkflowOption) == parser.isSet(FlowOption))
                    Cli::failUsage(QStringLiteral("give exactly one of --workflow ID and --flow NAME"));
                if (parser.isSet(WorkflowOption))
                {
                    const QString id = parser.value(WorkflowOption);
                    if (!Protocol::isValidWorkflowId(id))
                        Cli::failUsage(QStringLiteral("--workflow: '%1' is not a workflow ID (%2)")
                                           .arg(id.left(140), Protocol::workflowIdProblem(id)));
                    options.spec.workflowId = id;
                }
                else
                {
                    const QString flow = parser.value(FlowOption);
                    if (!Flows::Flow::isValidName(flow))
                        Cli::failUsage(QStringLiteral("--flow: '%1' is not a flow name").arg(flow.left(140)));
                    options.spec.flow = flow;
                }
                options.spec.sessions = integerOption(parser, SessionsOption, 2, 2, 64);
                options.spec.rounds = integerOption(parser, RoundsOption, 1, 1, 1000);
                options.spec.spreadMs = integerOption(parser, SpreadOption, 0, 0, 500);
            }

            std::optional<GatewayProfile> profile;
            if (!parsed.profile.isEmpty())
            {
                QSettings settings;
                profile = ProfileStore(&settings).profile(parsed.profile);
                if (!profile)
                    Cli::failUsage(QStringLiteral("--profile: there is no profile named '%1'").arg(parsed.profile));
                if (gatewayUrl.isEmpty())
                    gatewayUrl = profile->url;
                options.caFile = profile->caFile;
                options.verifyPeer = profile->verifyTls;
            }
            if (gatewayUrl.isEmpty())
                Cli::failUsage(QStringLiteral("--gateway URL is required (or --profile NAME with a URL)"));
            const QUrl url(gatewayUrl, QUrl::StrictMode);
            if (!url.isValid() || ((url.scheme() != u"ws") && (url.scheme() != u"wss")) || url.host().isEmpty())
                Cli::failUsage(QStringLiteral("--gateway: '%1' is not a ws:// or wss:// URL").arg(gatewayUrl));
            auto endpoint = GatewayEndpoint::fromUrl(gatewayUrl);
            if (!endpoint)
                Cli::failUsage(QStringLiteral("--gateway: ") + endpoint.error());
            options.webSocketUrl = endpoint->webSocketUrl;
            options.token = qEnvironmentVariable("LOCKSTEP_TOKEN");
            if (options.token.isEmpty() && parsed.profile.isEmpty())
                Cli::failUsage(QStringLiteral("no token: set $LOCKSTEP_TOKEN or give --profile NAME"));
            return parsed;
        }
    }  // namespace

    int runRaceCommand(int argc, char *argv[])
    {
        QCoreApplication app(argc, argv);
        QCoreApplication::setApplicationName(QStringLiteral("lockstep"));
        QCoreApplication::setOrganizationName(QStringLiteral("Lockstep"));
        QCoreApplication::setApplicationVersion(QStringLiteral(LOCKSTEP_VERSION));
        // The report is the output: per-connection debug and info lines are noise here
        // (QT_LOGGING_RULES still wins, e.g. "lockstep.*.debug=true").
        QLoggingCategory::setFilterRules(QStringLiteral("lockstep.*.debug=false\nlockstep.*.info=false\n"
                                                        "default.debug=false"));
        QStringList arguments = QCoreApplication::arguments();
        arguments.removeAt(1);  // "race"
        Parsed parsed = parse(arguments);

        int exitCode = 1;
        std::unique_ptr<Race::RaceEngine> engine;
        auto run = [&](const QString &token) {
            if (!token.isEmpty())
                parsed.options.token = token;
            engine = std::make_unique<Race::RaceEngine>(parsed.options);
            QObject::connect(engine.get(), &Race::RaceEngine::roundFinished, engine.get(),
                             [](const Race::RoundRecord &round) {
                                 if (round.runners != 1)
                                     fprintf(stderr, "round %d: %d runners\n", round.index, round.runners);
                             });
            QObject::connect(engine.get(), &Race::RaceEngine::failed, engine.get(), [&exitCode](const QString &why) {
                fprintf(stderr, "lockstep: race: %s\n", qPrintable(why));
                exitCode = 1;
                QCoreApplication::quit();
            });
            QObject::connect(
                engine.get(), &Race::RaceEngine::finished, engine.get(),
                [&exitCode, &parsed](const Race::RaceReport &report) {
                    printSummary(report);
                    exitCode = report.summary().passed ? 0 : 1;
                    const QJsonObject json = report.toJson();
                    QString error;
                    if (!parsed.json.isEmpty() &&
                        !writeFile(parsed.json, QJsonDocument(json).toJson(QJsonDocument::Indented), &error))
                    {
                        fprintf(stderr, "lockstep: race: cannot write the JSON report: %s\n", qPrintable(error));
                        exitCode = 1;
                    }
                    if (!parsed.html.isEmpty() &&
                        !writeFile(parsed.html, Race::renderHtmlReport(json).toUtf8(), &error))
                    {
                        fprintf(stderr, "lockstep: race: cannot write the HTML report: %s\n", qPrintable(error));
                        exitCode = 1;
                    }
                    QCoreApplication::quit();
                });
            engine->start();
        };

        // Ctrl+C ends the race after closing the current round's sessions; the reports are still written.
        ShutdownSignals shutdown;
        QObject::connect(&shutdown, &ShutdownSignals::received, &app, [&engine] {
            if (engine)
                engine->cancel();
        });

        std::unique_ptr<QSettings> settings;
        std::unique_ptr<TokenVault> vault;
        std::unique_ptr<ProfileManager> profiles;
        if (parsed.options.token.isEmpty())
        {
            // --profile without $LOCKSTEP_TOKEN: the token from the profile (keychain, or plain text on opt-in).
            settings = std::make_unique<QSettings>();
            vault = std::make_unique<TokenVault>();
            profiles = std::make_unique<ProfileManager>(settings.get(), vault.get());
            const std::optional<GatewayProfile> profile = profiles->store().profile(parsed.profile);
            profiles->lookUpToken(*profile, [&](const TokenLookup &lookup) {
                if (lookup.token.isEmpty())
                {
                    fprintf(stderr, "lockstep: race: no token for profile %s: %s\n", qPrintable(parsed.profile),
                            qPrintable(lookup.message.isEmpty() ? QStringLiteral("none is stored") : lookup.message));
                    exitCode = 1;
                    QCoreApplication::quit();
                    return;
                }
                run(lookup.token);
            });
        }
        else
            QTimer::singleShot(0, &app, [&] { run({}); });
        QCoreApplication::exec();
        return exitCode;
    }
}  // namespace Lockstep::Ui
