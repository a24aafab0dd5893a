// Package chat is the chat pane of the full-screen UI: the scrollback of one
// two-party conversation, drawn as rows of
//
//	15:04 alice ✓✓ the text, wrapped to the remaining width with a
//	               hanging indent so continuation rows start here
//
// It is a plain component, not a Bubble Tea model: the root model calls its
// methods (Add*, SetDelivery, Scroll*, SetSize, View). It does no I/O and
// owns no goroutines, and it is not safe for concurrent use.
//
// # Layout
//
// Every message row starts with its time (15:04, in the zone of SetClock),
// then the sender's name, right-aligned in a fixed column as wide as the
// longer of the two names (at most 12 cells, truncated with "…") and
// coloured per person (ours Styles.Self, the peer's style.PersonStyle of its
// StableID), then a two-cell delivery gutter, then the text. Our own messages
// show their delivery state in the gutter as a mark that does not rely on
// colour: "…" queued, "✓" sent, "✓✓" delivered, "✔✔" (heavy, bold) read by
// the peer (its READ record; never colour alone). A message the transport
// flags as a possible duplicate starts with "[possible duplicate]". Notices
// (info "*", gap "!", warning "!!") are rows of their own, with their time and
// their mark in the name column. A centred "── Thursday 26 November 2026 ──"
// row precedes the first item of each local day, and the first item.
// On narrow panes the columns degrade in order: the name column shrinks, then
// the time goes, then the name; below 7 cells only the text is left.
//
// All text (ours and the peer's, names included) goes through
// termsafe.Sanitize line by line, so line breaks are kept and escape
// sequences, C1 and bidi controls are shown escaped; tabs become four spaces
// (a tab's width depends on the terminal's tab stops).
//
// # Width policy
//
// Bubble Tea v2 measures cells with ansi.WcWidth (per codepoint, like
// wcwidth(3), tmux and most terminals) unless the terminal reports Unicode
// core mode 2027, when it switches to ansi.GraphemeWidth (per grapheme
// cluster). The two disagree on clusters such as 👋🏽 (4 vs 2 cells),
// 👨‍👩‍👧‍👦 (8 vs 2) and ❤️ (1 vs 2), and the terminal itself may follow
// either. The policy: the pane is told the renderer's method with
// SetWidthMethod (default ansi.WcWidth), aligns with it and wraps with it
// (ansi.Method.Wrap), and additionally bounds every row under both methods:
// no row is wider than the pane under ansi.WcWidth nor under
// ansi.GraphemeWidth. A line whose Wrap output has a row too wide under the
// other method is wrapped again measuring each word under both (the wider
// wins), still at spaces, breaking only words wider than a row, at
// grapheme-cluster boundaries. Names are truncated (with "…") and separators
// centred the same way: padding by the renderer's method, bounds by both.
// So whichever way the terminal draws a cluster, no row reaches past the
// pane's right edge; the cost is that a row holding disputed clusters may
// end a few cells short under one method. The pane draws no right border,
// so such a row can never break a frame, and rows are not padded to the
// width. A cluster wider than the whole text column (only on panes a few
// cells wide) is shown as "…". A message line holding a web address is
// wrapped at spaces measuring under both methods from the start, never at
// a hyphen, and its addresses may be OSC 8 links, which take no cells
// (links.go).
//
// Bubble Tea v2.1.1 switches its renderer to ansi.GraphemeWidth when a
// tea.ModeReportMsg for ansi.ModeUnicodeCore arrives with a value of
// ansi.ModeReset, ansi.ModeSet or ansi.ModePermanentlySet, and forwards that
// message to the model: the root model should then call
// SetWidthMethod(ansi.GraphemeWidth) so that the pane follows.
//
// # Scrolling
//
// The position is kept relative to the bottom: the item whose rows end the
// view and how many of its rows are hidden below it. The pane either follows
// the newest messages (AtBottom) or stays put: a message arriving while the
// reader is scrolled up never moves the view; it adds to Unread and a
// "── N new messages ──" divider (Styles.NewMarker) appears above the first
// of them, where N counts the messages that arrived since. MarkUnseen does
// the same at the bottom for a message that arrived while the reader was
// away (the terminal unfocused). A message counts as seen once its last row
// has been in view; returning to the bottom (or MarkSeen there) clears
// Unread; the divider stays, seen, until we send a message or a new unseen
// burst opens another (divider.go). Only the peer's messages count as unread (not
// notices, nor our own, which the root may follow with Bottom). PageUp and
// PageDown move half a page, as in senpai, so the reader keeps context.
//
// # Performance
//
// Each item caches its rendered rows keyed by (width, width method, its
// version, the pane's generation); SetDelivery bumps the item's version and
// SetPeer, SetClock, SetStyles bump the generation. View walks up from the
// bottom position and renders only the items whose rows are in view, so its
// cost does not depend on the length of the scrollback.
package chat
