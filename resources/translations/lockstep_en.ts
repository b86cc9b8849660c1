<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="en" sourcelanguage="en">
<context>
    <name></name>
    <message>
        <source>Testing %1…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Test cancelled.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Connected: Lockstep gateway %1 answers and needs no token.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Connected: Lockstep gateway %1 answers and accepts the token.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>the run lock</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>the CAS guards</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>fencing</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Connected, but this gateway runs with %1 off (QA switches): runs are not fully protected.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The gateway answers but is degraded: %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The gateway answers, but it needs a token: %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The gateway answers, but it refused the token: %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The gateway answers, but the token could not be checked: %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Cannot reach %1: connection refused — is the gateway running on that port?</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Cannot reach %1: the host name is not known.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Cannot reach %1: no answer in time.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Cannot reach %1: TLS failed (%2).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Something answers at %1, but it is not a Lockstep gateway (%2).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Cannot reach %1: %2</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>CancelConfirmation</name>
    <message>
        <source>It is running: the execution stops at its next step and the run ends as stopped; it cannot be resumed.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>It is %1: cancelling ends it as stopped; it cannot be resumed.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Cancelling ends it as stopped; it cannot be resumed.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Cancel workflow</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Cancel workflow %1?

%2</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Cancel the run</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Keep it running</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Don&apos;t cancel</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>ChatLogDelegate</name>
    <message>
        <source>The workflow ended.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>tool call</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Arguments</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>(none)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Response</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>(empty)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>(waiting for the tool)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>pending</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>success</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>failed</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>… more (Enter shows all)</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>Lockstep::CloseCode</name>
    <message>
        <source>closed</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>gateway restarting — reconnect</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>not allowed</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>message too big</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>gateway error</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>already running</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>invalid request</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>not found</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>not resumable</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>closed with code %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1 (status: %2)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1: %2</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>Lockstep::Ui::AboutDialog</name>
    <message>
        <source>About Lockstep</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Watch agent workflows live, see who holds a run&apos;s lock, resume and cancel them.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Version:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Qt:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Gateway:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Gateway version:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Replica:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Lock store:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Store:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1 (built with %2)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>not connected</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>waiting for its answer…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>State:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1 (last answer)</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>Lockstep::Ui::ChatLogModel</name>
    <message>
        <source>You approved</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>You rejected</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>You</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Agent</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Tool · %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Tool</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Request</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>End of workflow</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>Lockstep::Ui::ChatLogView</name>
    <message>
        <source>Chat log</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Answer the request</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Approve</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Approve the request</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Approve: the run carries on after this request</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Re&amp;ject</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Reject the request</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Reject: the turn ends; send a message to say what to do instead</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1 — %2</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Arguments</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Response</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>(none)</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>Lockstep::Ui::ConnectionCheck</name>
    <message>
        <source>no answer within %1 s</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>/healthz answered HTTP %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>its /healthz answer is not a Lockstep one</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>Lockstep::Ui::ConnectionCheckView</name>
    <message>
        <source>Test connect&amp;ion</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Ask the gateway&apos;s /healthz, then try the token, without saving anything</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>S&amp;top test</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Reachable: %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>yes, /healthz answered at %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>no — %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>asking %1/healthz…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>none given, none needed</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>accepted</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Token: %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>refused — %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>trying it…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>not checked — %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>(not said)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Gateway version: %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Replica: %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Lock store: %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>memory (in-process: one replica only)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Store: %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1 on</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1 OFF</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Switches: %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>lock</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>CAS guards</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>fencing</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>Lockstep::Ui::EmbeddedGateway</name>
    <message>
        <source>the gateway did not report its address within %1 s</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>cannot start %1: %2</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>the embedded gateway crashed</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>the embedded gateway exited with code %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>cannot create the data folder %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>cannot read the gateway&apos;s token file %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>the embedded gateway stopped (exit code %1)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>lockstep-gateway was not found next to the console (%1): install the lockstep-gateway package, or set LOCKSTEP_GATEWAY_BIN</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>Lockstep::Ui::FirstRunDialog</name>
    <message>
        <source>Run a &amp;local gateway on this computer</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Connect to a gateway</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Welcome to Lockstep</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>the gateway&apos;s bearer token</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Lockstep shows the workflows of a gateway. Run one here, or connect to one that runs elsewhere.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>SQLite in the app&apos;s data folder, in-process lock; started and stopped with the console, every time it starts without a profile. Change it later under Gateway ▸ Start a local gateway at launch.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;URL:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Token:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Keep the token:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Profile &amp;name:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Start the local gateway</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Save and connect</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The URL is not usable: %1.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Not available: lockstep-gateway is not installed. Install the lockstep-gateway package (or set LOCKSTEP_GATEWAY_BIN) to run one here.</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>Lockstep::Ui::FrameInspector</name>
    <message>
        <source>legacy</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>incremental</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1 (%2): %3 events, %4 B (%5 B per event)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Frames</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Sessions</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Session</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Mode</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>State</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Events</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Event bytes</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Wire in</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Wire out</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Direction</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>In and out</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>In (from the gateway)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Out (from the console)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Message type</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Every message</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Search the frames</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Search payloads…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>→ out</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The selected frame</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Select a frame to see it whole.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Session bytes</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Incremental against legacy event bytes</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Frames — %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>open</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>No session yet: the tab&apos;s connections appear here.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1 (%2) — %3</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Frames: %1 in · %2 out · %3 pings · %4 pongs (the newest %5 kept, %6 dropped)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Payload bytes: %1 in · %2 out</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Wire bytes: %1 in · %2 out (upgrade, frame headers, masks and TLS included)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Event bytes (newCheckpoint): %1 in %2 events</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Event bytes, incremental against legacy: %1  |  %2  —  legacy sends %3× the bytes per event</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Event bytes: %1. To compare, send a message with “Legacy events” %2 in the tab.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>unticked</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>ticked</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>No events (newCheckpoint) received yet.</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>Lockstep::Ui::FrameSession</name>
    <message>
        <source>connection lost</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>closed by the console</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>closed by the server</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>failed: %1</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>Lockstep::Ui::FrameSessionList</name>
    <message>
        <source>live</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>drive</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>session</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>Lockstep::Ui::FrameTableModel</name>
    <message>
        <source> · closed by client</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source> · closed by server</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>1 entry</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1 entries</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source> · full checkpoint (legacy)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1 · holder %2 · fence %3 · TTL %4 ms</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>resume</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source> · legacy (no incremental_streaming)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>← in</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>→ out</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>#</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Time</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Direction</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Kind</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Bytes</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Message</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Summary</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>no payload</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>#%1 · %2 · %3 · %4 · %5 bytes
</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>
Code: %1 (%2)
Reason: %3
Closed by: %4
</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>(none)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>client (the console sent the first close frame)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>server (the gateway sent the first close frame)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>
(no payload)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>(checkpoint: a JSON string on the wire, shown parsed)
</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>Lockstep::Ui::HistoryStore</name>
    <message>
        <source>no data folder</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>cannot create the folder %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1 is a folder, not a database</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>the Qt SQLite driver (QSQLITE) is not available</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>cannot open %1: %2</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>cannot read %1: %2</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1 was written by a newer Lockstep (schema %2, this one knows %3)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>cannot write %1: %2</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>cannot set up %1: %2</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>Lockstep::Ui::HistoryView</name>
    <message>
        <source>Show lock &amp;events</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>History</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Where the history is kept</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Outcomes and lock events, newest first</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Kept on this computer (%1) for %2 days, at most %3 lines per workflow.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Not kept after the console closes: %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Lock: %1</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>Lockstep::Ui::LockPanel</name>
    <message>
        <source>Lock values last known</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Lock state</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Fencing token</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>TTL left</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Heartbeats</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Deadline left</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Run lock</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Lock:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Fencing token:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>TTL left:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Heartbeats:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Deadline left:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Lock &amp;events</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Lock events</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Not connected to the gateway — last known at %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1 seen</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1 seen, last at %2</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1 seen, last at %2 (%3 ago)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1 (of %2)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>— (taken before this tab opened; limit %1)</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>Lockstep::Ui::LockTimeline</name>
    <message>
        <source>Lock timeline</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Lock timeline — wheel: zoom · drag: pan · double-click: show all</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>No lock events yet</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>Lockstep::Ui::MainWindow</name>
    <message>
        <source>No workflow open.

Open a run from the list (Enter or double-click), start a new one (Ctrl+N), or connect to a gateway (Ctrl+Shift+P).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Gateway: not connected</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>History is kept for this session only — %1. Everything else works.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Runs</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Search ID or goal (Ctrl+F)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Search runs</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Status filter</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>All statuses</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Active (not finished or stopped)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Stale running</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;File</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;New workflow…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Open workflow by ID…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Open the selected &amp;run</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Open in new &amp;tab</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Close tab</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Quit</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Gateway</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Profiles…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Reconnect now</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Workflow</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Resume</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Cancel run…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Send message</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Ctrl+Enter in the message box</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Write a &amp;message</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;View</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Run list</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Chat log</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Search runs</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Theme</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Follow the &amp;system</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Light</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Dark</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Help</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;About Lockstep</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>About &amp;Qt</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Gateway: embedded gateway at an unusable address: %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>embedded</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Gateway: the embedded gateway failed: %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Gateway: starting the embedded gateway…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Gateway: %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Gateway URL</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The gateway URL &apos;%1&apos; cannot be used:
%2

Pick or add a gateway under Profiles.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Not connected to a gateway.

Add one under Gateway ▸ Profiles… (Ctrl+Shift+P), or start the console with --embedded to run a local gateway.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Gateway: there is no profile named %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Gateway: profile %1: %2</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Profile %1 has an unusable gateway URL: %2</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Gateway: %1 — looking up the token…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>No token is stored for profile %1.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Token for %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1
Enter the gateway&apos;s bearer token; it is kept for this session only.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Gateway: %1 — connecting…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Gateway: %1 — token refused (HTTP 401)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Gateway %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Gateway: %1 — unreachable: %2; trying again</source>
        <translation type="unfinished"></translation>
    </message>
    <message numerus="yes">
        <source>Gateway: %1 — connected, %n run(s), updated %2</source>
        <translation>
            <numerusform>Gateway: %1 — connected, %n run, updated %2</numerusform>
            <numerusform>Gateway: %1 — connected, %n runs, updated %2</numerusform>
        </translation>
    </message>
    <message>
        <source>%1: token refused — open Profiles to set the right one.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Cannot open &apos;%1&apos;: not a workflow ID — %2</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Session closed: %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Live view closed: %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1
— this tab is driving the run</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Close tab</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>This tab drives workflow %1. Closing it ends its session and the run pauses at its next step (Resume continues it).

Close the tab?</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Open</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Open in &amp;new tab</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Copy ID</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Copied %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>C&amp;ancel run…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The run is %1 already</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Cancel %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1 — %2</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Open workflow</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Workflow ID:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>New workflow: the goal is empty — say what the agent should do.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Creating a %1 workflow…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>New workflow (%1) failed</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>New workflow (%1) failed: %2</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Created workflow %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>New workflow: &apos;%1&apos; is not a workflow ID — %2</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>New workflow: %1 exists already — open it (File → Open workflow…) or choose another ID.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Gateway switches</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Recordings…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Pre&amp;ferences…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>R&amp;ace…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Send from several sessions at once, round after round, and count who ran</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Lock OFF on this gateway: concurrent executions of one workflow are possible</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>CAS guards OFF: resume and cancel are not guarded</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>fencing OFF: a stale lock holder can still write</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Start a &amp;local gateway at launch</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>When the console starts without --gateway or --profile, it runs its own gateway (SQLite, in-process lock)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>connected</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>connecting…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>unreachable since %1: %2</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>token refused (HTTP 401)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The embedded gateway is not running:
%1</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>Lockstep::Ui::NewWorkflowDialog</name>
    <message>
        <source>Goal problem</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Workflow ID problem</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Workspace ID problem</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>New workflow</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Goal</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>What should the agent do? (the first message of the run)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Flow</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Flow description</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Flow list note</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Workflow ID</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>optional: generated when empty</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Workspace ID</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>optional: the workspace its tools run in</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Start</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Goal:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Flow:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Workflow ID:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>W&amp;orkspace ID:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Asking the gateway for its flows…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The gateway lists no flows; showing the built-in ones.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>This gateway is older and cannot list its flows; showing the built-in ones (a flow it does not run is refused when you start).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Cannot ask the gateway for its flows (%1); showing the built-in ones.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Say what the agent should do: the goal is empty.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Not a workflow ID — %1. The rule: 1 to %2 characters of [A-Za-z0-9._:-], not only dots.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Not a workspace ID — the rule: [A-Za-z0-9][A-Za-z0-9_.-]{0,127} (a letter or digit first, at most 128 characters).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Start the workflow</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Fill in the goal and fix the fields marked in red</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>Lockstep::Ui::NotificationBar</name>
    <message>
        <source>Notification</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Notification text</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Dismiss</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>Lockstep::Ui::Outcome</name>
    <message>
        <source>replica %1, session %2</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>this tab</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>this tab (%1)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1 (status: %2)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>resumed</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>message sent</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>not resumable</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>not found</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>cancelled</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>nothing to cancel</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>holder unknown</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>held by %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>already running (1013) — %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>this tab is driving the run</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>invalid request</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>invalid request: %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>failed</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>failed: %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1 (%2)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1 (%2): %3</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>unexpected answer from the gateway</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>no answer from the gateway</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>not allowed (HTTP 401: the token was refused)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>HTTP %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>HTTP %1: %2</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>Lockstep::Ui::PreferencesDialog</name>
    <message>
        <source> days</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source> MB</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Preferences</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>History and recordings (kept on this computer)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Keep for:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Database size at most:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Recorded sessions per workflow:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>History lines and lock events per workflow:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Over the size limit, the oldest recorded sessions (with their frames) go first, then the oldest races, then the oldest history lines. Defaults: %L1 days, %L2 MB, %L3 sessions, %L4 lines.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Frame inspector</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Frames kept per session:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The newest frames stay in memory; default %L1.</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>Lockstep::Ui::ProfileDialog</name>
    <message>
        <source>&amp;Verify the gateway&apos;s TLS certificate</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Save</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Delete</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Save and co&amp;nnect</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Gateway profiles</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Profiles</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>optional: a PEM file with an extra trusted CA</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>leave empty to keep the stored token</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Browse…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>CA certificate</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>PEM certificates (*.pem *.crt);;All files (*)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Name:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;URL:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>C&amp;A file:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Token:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Keep the token:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>N&amp;ew</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Deleted profile %1.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Give the profile a name.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The URL is not usable: %1.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Saving…</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>Lockstep::Ui::ProtocolSocket</name>
    <message>
        <source>dropped by the console</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>Lockstep::Ui::RaceDialog</name>
    <message>
        <source>ran</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>already running</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>not resumable</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>closed</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>failed to connect</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>could not write %1: %2</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>This workflow:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>A new workflow every round, flow:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Run</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Run &amp;again</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Stop</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Load report…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Export &amp;JSON…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Export &amp;HTML…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Frames…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Round</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Workflow</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Runners</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Ran</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Already running</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Not resumable</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Other</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Findings</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Session</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Offset</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Outcome</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Close</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Reason</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Execution</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Closed at</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Previous</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>This run</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Race — %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source> ms</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>How many sessions send a message to the workflow at once (2–64)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Each session sends at a random moment within this window (0–500 ms)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Target</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Race</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Sessions:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Rounds:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Spread:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Every frame of the selected round&apos;s sessions, in the frame inspector</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Repeat the last race with the same sessions, offsets and messages against this gateway, and compare the two</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Finding</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Sessions</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>When</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Detail</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Chat entries</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Load race report</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Race reports (*.json)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The race stopped: %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Connecting…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>HTML report (*.html)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>JSON report (*.json)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Export race report</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>round %1 · session %2</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Frames — race round %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1 of %2 rounds · runners per round: min %3, max %4 · rounds with ≠ 1 runner: %5 · findings: %6</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source> — passed: exactly one runner every round, nothing found</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source> — FAILED</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1 ms</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1 – %2 (%3 ms)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Entry</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Session %1 saw</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Final chat log</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>not read</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>missing</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>the lock is OFF (--no-lock-concurrent-flows)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>CAS guards are OFF (--no-cas-guards)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>fencing is OFF</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>This gateway runs with %1: concurrent executions are possible.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>on</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>off</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Gateway</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Version</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Lock</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>CAS guards</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Rounds</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Runners per round</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Rounds with ≠ 1 runner</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Passed</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>yes</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>no</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>Lockstep::Ui::RecordingsBrowser</name>
    <message>
        <source>not closed</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>failed to connect</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>closed by the console</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>connection lost</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>lock</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>CAS guards</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>fencing</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>on</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>off</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>switches unknown</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>#</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Time</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Direction</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Kind</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Size</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Payload</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>← in</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>→ out</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1, closed by the %2</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>console</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>gateway</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>State</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Holder</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Fence</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>TTL</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Close code</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Round</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Workflow</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Runners</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Final status</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Sessions</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Export…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Recordings</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Recording</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>When</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Outcome</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Recorded workflows, sessions and races</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Frames of the session</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>As &amp;JSON…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>As &amp;HTML…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Export as JSON</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>JSON report (*.json)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Export</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Export as HTML</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>HTML report (*.html)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Refresh</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Workflows</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>sessions: %1 · lock events: %2</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1 · frames: %2</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Races</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1 · %2 sessions × %3 rounds</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>flow %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>passed</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>failed · findings: %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Nothing is recorded: the history database could not be opened%1.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Recorded sessions: %1 · frames: %2 · races: %3

Kept in %4 (%5 of at most %6, for %7 days; Preferences… changes this). Select a session to see its frames, a race to see its rounds.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Workflow %1 · recorded sessions: %2 · lock events: %3
Export… writes its sessions with their frames, its lock events and its history.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>This session is no longer recorded (pruned).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1 session of %2 on %3
%4 → %5: %6
%7 frames in (%8), %9 out (%10); %11 pings, %12 pongs</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Race on %1 against %2 (gateway %3; %14)
%4 sessions × %5 rounds, spread %6 ms — %7
Rounds with one runner: %8 of %9 · runners per round: %10–%11 · findings: %12%13</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>a new workflow of flow %1 each round</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>FAILED</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Nothing to export: select a workflow, a session or a race.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Cannot write %1: %2</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>Lockstep::Ui::RunListModel</name>
    <message>
        <source>unknown</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1 (stale)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1 s</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1 min %2 s</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1 h %2 min</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1 d %2 h</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>created %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1 so far (since %2; not finished)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1 from creation to completion</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>: no activity for more than %1 s; it can be resumed</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>held by %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Workflow ID</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Goal</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Flow</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Status</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Created</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Duration</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Last activity</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Lock holder</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>Lockstep::Ui::TokenStorageChoice</name>
    <message>
        <source>In the system &amp;keychain (recommended)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>For this session &amp;only (asked again next time)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>In &amp;plain text in the settings file — not recommended: anyone who can read the file can use the token</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>Lockstep::Ui::WorkflowTab</name>
    <message>
        <source>&amp;Send</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Resume</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Cancel run…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Open in &amp;new tab</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Run status</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Goal</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Latest message</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Resume</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Resume the run (Ctrl+R): a startRequest with an empty goal</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Cancel the run (Ctrl+Shift+K); asks first</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Open this workflow again in a second tab, on its own connection (Ctrl+Shift+T)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Live connection</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Driving session</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Last outcome</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Dismiss the last outcome</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Dismiss (the outcome stays in History)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Outcome history</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Lock</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;History</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Next message</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Type the next message for the agent… (Ctrl+Enter sends)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Send the message (Ctrl+Enter): a startRequest with it as the goal</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1
Goal: %2</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Goal: </source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Latest message: </source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>This tab is driving the run: its session has to end first</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>status unknown</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1 (stale: no recent activity)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1 — last known at %2</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Live: %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>connected, this tab is driving the run</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Session: %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>none (Resume or Send starts one)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source> (last known at %1)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source> — checking the lock again in %1 s</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>the run is free again: Resume (Ctrl+R) or Send (Ctrl+Enter)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>held by %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>the run is held by another session</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>cannot check the lock: %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Fra&amp;mes…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Legacy events (no incremental_streaming)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Every frame of this tab&apos;s sessions, their bytes and close codes</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Resume and Send ask for the full checkpoint in every event, as old clients did; the frame inspector compares the bytes</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Timeline</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Frames — %1</source>
        <translation type="unfinished"></translation>
    </message>
</context>
</TS>
