package words

import "fmt"

// NothingToReplay is /replay's answer when no chat message was sent since
// duet started: it re-sends chat messages only, never a ping.
const NothingToReplay = "/replay: nothing to replay: no chat message sent since duet started (send one first; /replay never re-sends a ping)"

// Replayed says what /replay re-sent: the record type typ (CHAT) and its
// seq when hasSeq; earlier when it was sealed in an earlier session than
// the current one, whose key has moved on.
func Replayed(typ string, seq uint32, hasSeq, earlier bool) string {
	what := typ
	if hasSeq {
		what = fmt.Sprintf("%s seq %d", typ, seq)
	}
	if earlier {
		return fmt.Sprintf("/replay: no chat message sent in this session yet: re-sent our last record of an earlier session (%s); its key has moved on: the peer should reject it as tampered", what)
	}
	return fmt.Sprintf("/replay: re-sent our last record (%s); the peer should reject it as a replay", what)
}

// Missing says that n records from the peer were skipped (a gap in its
// sequence numbers): a message among them is not lost, its sender sends it
// again until we acknowledge it. The line must stay true once it arrives.
func Missing(n uint64) string {
	if n == 1 {
		return "1 message missing, asking for it again"
	}
	return fmt.Sprintf("%d messages missing, asking for them again", n)
}

// MissingArrived is said when a message written before a gap was seen
// arrives after it: the missing message, sent again.
const MissingArrived = "the missing message arrived (sent again): nothing lost"
