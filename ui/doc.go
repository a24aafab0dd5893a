// Package ui holds duet's front ends over the protocol's event stream that
// write lines: the headless JSON lines (Headless) and the human line mode
// (Lines), both behind Output and run by Serve with the input loop; the
// MITM relay's output (MITMOutput); and the benchmark harness. The full
// screen is ui/screen, the demo ui/demo; what duet says to people is
// ui/words.
//
// # Adding an event
//
// Each front end turns a protocol.Event into output with its own type
// switch, and a kind a switch does not know still gets through, but only as
// a fallback: Headless writes its name and time, Lines prints "* name", the
// screen ignores it. A new event kind (a type implementing protocol.Event,
// in protocol/events.go, or here like HistoryClearedEvent) must therefore
// be taught to each of these, in the same change:
//
//   - Headless.marshalEvent (headless.go): a case and an xxxObject giving
//     its JSON fields in schema order; Headless.Emit too if its line must
//     never be dropped (as a message's) or must wait for stdout (as
//     ShownEvent); and fastLine (headless_fast.go) only if it is written
//     once per message, byte for byte as marshalEvent (TestFastLinesMatch).
//   - Lines.Emit (lines.go): a case, and a print method if it takes more
//     than a line; plain words (ui/words for reasons), the peer's text
//     through termsafe.Sanitize.
//   - Screen.handleEvent (ui/screen/events.go): a case updating the panes.
//   - critical (ui/screen/sink.go): whether the screen's sink may drop it
//     when events come faster than the screen takes them (every kind is
//     critical unless listed there).
//   - Or, for an event a front end must not print, a case ignoring it
//     explicitly in Headless.Emit and Lines.Emit (as PeerKeyEvent: main
//     acts on it, and the JSON schema and the line mode's text stay as they
//     are).
//   - docs/HEADLESS.md: the event table (its name and fields are interface)
//     and the line mode section; and the tests of each front end
//     (TestHeadlessEventsJSON, TestLinesNewEvents, the screen's).
//
// A new state of an existing event (a protocol.SessionState, say) needs the
// same places.
package ui
