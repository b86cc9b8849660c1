#pragma once

// `lockstep race`: the race runner with no window (CI jobs have no display).
namespace Lockstep::Ui
{
    // The whole command, with argv[1] == "race": makes its own
    // QCoreApplication (no QApplication, no display), runs the race and
    // returns the exit code: 0 every round had exactly one runner and the
    // anomaly checker found nothing, 1 otherwise (or the race could not run),
    // 2 bad arguments (one line on stderr).
    int runRaceCommand(int argc, char *argv[]);
}  // namespace Lockstep::Ui
