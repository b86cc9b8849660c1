#pragma once

#include <QMainWindow>

namespace Lockstep::Ui
{
    class MainWindow final : public QMainWindow
    {
        Q_OBJECT

    public:
        explicit MainWindow(QWidget *parent = nullptr);
    };
} // namespace Lockstep::Ui
