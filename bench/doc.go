// Package bench is `duet bench`: it measures duet against the library it
// runs on, on loopback, and prints a table of the figures and their ratios.
//
//   - In process (Run, inprocess.go): two protocol.Nodes in this process
//     over two connected net transports, in memory and then with their
//     databases (bbolt, fsynced), beside a stock zmq4 DEALER -> ROUTER pair
//     in the same process. This is the protocol's own cost: throughput,
//     idle one-way latency, handshake time.
//   - Two processes (RunProcesses, processes.go): what users get. Two
//     `duet --headless` processes (--ephemeral, and durable with their
//     databases) started with os/exec, fed lines on stdin and read on stdout
//     (child.go), beside two raw zmq4 processes driven the same way; several
//     runs, the three kinds interleaved, ratios computed run by run
//     (processtable.go), and the durable disk floor timed on the same disk.
//   - Raw zmq4 baselines (raw.go, rawpeer.go): stock zmq4 without duet's
//     guards or encryption, in process and as the hidden
//     `duet bench-raw-peer` (RawPeerSend, RawPeerRecv). They exist only to
//     be measured against: never use them to talk to a peer.
//
// Targets are judged by benchmarks, never by timed unit tests: issue 9's
// targets by RunProcesses' table (✓ met, ✗ not), the figures of single
// parts by Go benchmarks (go test -bench) in their own packages. A test
// that asserts a time fails on a loaded machine and passes on a fast one;
// this package's tests check the harness (statistics, the table's layout,
// reading a process's lines, no process left behind after a failure) and
// never that a figure meets a target.
//
// The flags of `duet bench` (package main), the row names and the table's
// layout are interface: scripts and docs/DESIGN.md read them. bench
// imports net, protocol and the store directly; it is not a front end and
// imports no ui package. Outside tests it is the only package of duet
// that starts processes (os/exec).
package bench
