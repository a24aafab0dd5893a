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
