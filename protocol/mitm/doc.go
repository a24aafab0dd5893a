// Package mitm is the man in the middle of `duet mitm` and `duet demo`: an
// attack tool that relays the bytes between two duet peers and, when told,
// replays, tampers with, reorders, drops or re-keys them, or impersonates
// each peer to the other, so that one can watch every attack being refused
// with the reason docs/PROTOCOL.md gives for it. It only relays: it holds
// none of the peers' keys, needs nothing from them and weakens nothing in
// them; every attack it makes, an attacker on the path could make. It
// builds on package protocol (the wire format, a Node per side to
// impersonate, the Transport), and protocol never imports it.
package mitm
