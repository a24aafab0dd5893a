// Package panel renders the full-screen UI's side panels and bars: header,
// status bar, handshake steps, security log, record inspector, the
// key-changed warning and the /verify overlay. Panels are plain structs that
// take events and render strings; they do no I/O and own no goroutines.
// Their sentences come from package words.
package panel
