package words

// Typing is the full screen's line while the peer composes (its TYPING
// records; it ends by itself 6 s after the last one).
func Typing(peer string) string { return peer + " is typing…" }

// DeliveryMarks explains the marks beside our messages, for help texts:
// every state has its own shape, never colour alone.
const DeliveryMarks = "… queued · ✓ sent · ✓✓ delivered (shown on the peer's screen) · ✔✔ read (on the peer's screen while its terminal had the focus)"
