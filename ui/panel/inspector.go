package panel

import (
	"encoding/hex"
	"fmt"
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"duet/protocol"
	"duet/ui/style"
)

// Inspector is the record inspector: the last records in and out, one row
// each. Copies of one record (same direction, seq and nonce prefix: a
// replay, or a nonce reuse) are drawn together, at the place of the newest
// copy and joined by a bracket in the left gutter (┌ ├ └), so a replayed
// record's row sits next to the original's.
//
// Liveness records (PING and PONG, plain or sealed: four a second) are hidden
// unless SetShowLiveness(true), so that chat, receipt, rekey and handshake
// records, and a replay beside its original, stay in view.
type Inspector struct {
	all      []protocol.RecordInfo // as given to Set
	total    uint64                // the record log's total when all was read (SetAt)
	showLive bool
	hidden   int // liveness records left out of recs

	recs  []protocol.RecordInfo
	order []int    // display order: indexes into recs
	group []string // gutter mark per display row
}

// NewInspector returns an empty inspector.
func NewInspector() *Inspector { return &Inspector{} }

type recKey struct {
	dir    protocol.Direction
	seq    uint32
	hasSeq bool
	nonce  [4]byte
}

// SetAt is Set for records read when the record log's total was total
// (RecordLog.Total): Total returns it, so the caller polls again only when
// the log has grown.
func (i *Inspector) SetAt(recs []protocol.RecordInfo, total uint64) {
	i.total = total
	i.Set(recs)
}

// Total is the record log's total given to the last SetAt (0 before).
func (i *Inspector) Total() uint64 { return i.total }

// Set replaces the records shown (oldest first, as RecordLog.Last returns
// them). The slice is copied.
func (i *Inspector) Set(recs []protocol.RecordInfo) {
	i.all = append(i.all[:0], recs...)
	i.recs, i.hidden = i.recs[:0], 0
	for _, r := range i.all {
		if !i.showLive && isLiveness(r.Type) {
			i.hidden++
			continue
		}
		i.recs = append(i.recs, r)
	}
	i.order = i.order[:0]
	i.group = i.group[:0]
	members := make(map[recKey][]int)
	for j, r := range i.recs {
		if r.HasNonce {
			k := recKey{r.Dir, r.Seq, r.HasSeq, r.Nonce}
			members[k] = append(members[k], j)
		}
	}
	for j, r := range i.recs {
		var m []int
		if r.HasNonce {
			m = members[recKey{r.Dir, r.Seq, r.HasSeq, r.Nonce}]
		}
		if len(m) < 2 {
			i.order = append(i.order, j)
			i.group = append(i.group, " ")
			continue
		}
		if m[len(m)-1] != j {
			continue // drawn with the newest copy
		}
		for n, idx := range m {
			mark := "├"
			switch n {
			case 0:
				mark = "┌"
			case len(m) - 1:
				mark = "└"
			}
			i.order = append(i.order, idx)
			i.group = append(i.group, mark)
		}
	}
}

// SetShowLiveness chooses whether PING/PONG records are listed.
func (i *Inspector) SetShowLiveness(on bool) {
	if on != i.showLive {
		i.showLive = on
		i.Set(append([]protocol.RecordInfo(nil), i.all...))
	}
}

// ShowLiveness reports whether PING/PONG records are listed.
func (i *Inspector) ShowLiveness() bool { return i.showLive }

// Hidden is the number of liveness records left out of the list.
func (i *Inspector) Hidden() int { return i.hidden }

func isLiveness(t byte) bool {
	switch t {
	case protocol.TypePing, protocol.TypePong, protocol.TypePlainPing, protocol.TypePlainPong:
		return true
	}
	return false
}

// Inspector columns, in display order.
const (
	colGutter = iota
	colTime
	colDir
	colType
	colSeq
	colStamp
	colNonce
	colSize
	colVerdict
	numCols
)

// inspectorDrop is the order in which columns go when the panel is narrow
// (first dropped first): size, local time, header timestamp, nonce prefix
// (copies of one record are still joined by the gutter's bracket), type
// (after its short names: KEYTRAN for KEY_TRANSPORT, ...).
// Gutter, direction, seq and verdict always stay.
var inspectorDrop = []int{colSize, colTime, colStamp, colNonce, colType}

var inspectorHeads = [numCols]string{"", "time", "dir", "type", "seq", "hdr time", "nonce", "size", "verdict"}

// View renders a header row and the newest rows that fit, in exactly height
// rows of exactly width cells.
func (i *Inspector) View(st *style.Styles, width, height int) string {
	st = styles(st)
	if height <= 0 {
		return ""
	}
	// Rows shown: the last height-1 of the display order.
	first := max(0, len(i.order)-(height-1))
	shown := i.order[first:]
	marks := i.group[first:]

	cells := make([][numCols]string, len(shown))
	var w [numCols]int
	for c := range w {
		w[c] = ansi.StringWidth(inspectorHeads[c])
	}
	w[colNonce] = max(w[colNonce], 8)
	for n, idx := range shown {
		r := i.recs[idx]
		row := &cells[n]
		row[colGutter] = marks[n]
		row[colTime] = r.At.Format("15:04:05.000")
		row[colDir] = r.Dir.String()
		row[colType] = protocol.TypeName(r.Type)
		row[colSeq], row[colStamp], row[colNonce] = "–", "–", "–"
		if r.HasSeq {
			row[colSeq] = fmt.Sprint(r.Seq)
		}
		if !r.Timestamp.IsZero() {
			row[colStamp] = r.Timestamp.Format("15:04:05.000")
		}
		if r.HasNonce {
			row[colNonce] = hex.EncodeToString(r.Nonce[:])
		}
		row[colSize] = fmt.Sprint(r.Size)
		row[colVerdict] = verdictText(r.Verdict)
		for c := range row {
			w[c] = max(w[c], ansi.StringWidth(row[c]))
		}
	}
	w[colGutter] = 1

	heads := inspectorHeads
	// Drop columns until the minimum row fits; the verdict takes the rest.
	var on [numCols]bool
	for c := range on {
		on[c] = true
	}
	// The verdict column needs room for its short form ("! replay").
	shortW := ansi.StringWidth(inspectorHeads[colVerdict])
	for _, idx := range shown {
		shortW = max(shortW, ansi.StringWidth(verdictShort(i.recs[idx].Verdict)))
	}
	need := func() int {
		n, cols := 0, 0
		for c := range w {
			if on[c] {
				if c == colVerdict {
					n += shortW
				} else {
					n += w[c]
				}
				cols++
			}
		}
		return n + cols - 1
	}
	dropColumns(cells, &w, &on, need, width)
	if need() > width {
		// Last resort: the direction as an arrow.
		for n := range cells {
			cells[n][colDir] = dirArrow(shown[n], i.recs)
		}
		w[colDir] = 1
		heads[colDir] = "↕"
	}

	// Rejections read "! replay (rejected)" when there is room, else
	// "! replay".
	room := width - (need() - shortW)
	for n, idx := range shown {
		if ansi.StringWidth(cells[n][colVerdict]) > room {
			cells[n][colVerdict] = verdictShort(i.recs[idx].Verdict)
		}
	}

	lines := make([]string, 0, height)
	lines = append(lines, st.Bold.Render(i.line(&heads, &w, &on, nil, nil)))
	if len(shown) == 0 {
		lines = append(lines, st.Dim.Render("no records yet"))
	}
	for n, idx := range shown {
		lines = append(lines, i.line(&cells[n], &w, &on, st, &i.recs[idx]))
	}
	return block(lines, width, height)
}

// line lays out one row; with st and r it styles the direction and verdict.
func (i *Inspector) line(cells *[numCols]string, w *[numCols]int, on *[numCols]bool, st *style.Styles, r *protocol.RecordInfo) string {
	var b strings.Builder
	first := true
	for c := 0; c < numCols; c++ {
		if !on[c] {
			continue
		}
		if !first {
			b.WriteByte(' ')
		}
		first = false
		text := cells[c]
		pad := ""
		if c != colVerdict {
			pad = strings.Repeat(" ", max(0, w[c]-ansi.StringWidth(text)))
		}
		right := c == colSeq || c == colSize
		if st != nil && r != nil {
			text = styleCell(st, c, text, r)
		}
		if right {
			b.WriteString(pad + text)
		} else {
			b.WriteString(text + pad)
		}
	}
	return b.String()
}

func styleCell(st *style.Styles, c int, text string, r *protocol.RecordInfo) string {
	var s lipgloss.Style
	switch c {
	case colDir:
		s = st.InspectOut
		if r.Dir == protocol.DirIn {
			s = st.InspectIn
		}
	case colTime, colStamp:
		s = st.Time
	case colGutter:
		s = st.Warn
	case colVerdict:
		switch {
		case IsRejectedVerdict(r.Verdict):
			s = st.Rejected
		case r.Verdict == protocol.VerdictReplayed:
			s = st.Warn
		case r.Verdict == protocol.VerdictIgnored:
			s = st.Dim
		}
	default:
		return text
	}
	return s.Render(text)
}

// dropColumns turns columns off in inspectorDrop's order until need()
// fits in width; before the type column goes, its short names are tried.
func dropColumns(cells [][numCols]string, w *[numCols]int, on *[numCols]bool, need func() int, width int) {
	for _, c := range inspectorDrop {
		if need() <= width {
			return
		}
		if c == colType {
			w[colType] = ansi.StringWidth(inspectorHeads[colType])
			for n := range cells {
				cells[n][colType] = shortType(cells[n][colType])
				w[colType] = max(w[colType], ansi.StringWidth(cells[n][colType]))
			}
			if need() <= width {
				return
			}
		}
		on[c] = false
	}
}

// shortTypes are the record type names of a narrow inspector, at most 7
// cells (the others are already that short).
var shortTypes = map[string]string{
	"PUBLIC_KEY":    "PUBKEY",
	"KEY_TRANSPORT": "KEYTRAN",
	"PLAIN_PING":    "P-PING",
	"PLAIN_PONG":    "P-PONG",
}

func shortType(name string) string {
	if s, ok := shortTypes[name]; ok {
		return s
	}
	return name
}

func dirArrow(idx int, recs []protocol.RecordInfo) string {
	if recs[idx].Dir == protocol.DirIn {
		return "←"
	}
	return "→"
}

// verdictShort is the verdict in a narrow column: a rejection is its
// mark and reason only.
func verdictShort(v string) string {
	if t := verdictText(v); t != clean(v) {
		return "! " + clean(v)
	}
	return verdictText(v)
}

// IsRejectedVerdict reports whether a RecordInfo verdict is a rejection
// (a reason code rather than accepted, sent, replayed or ignored).
func IsRejectedVerdict(v string) bool {
	switch v {
	case protocol.VerdictAccepted, protocol.VerdictSent, protocol.VerdictReplayed, protocol.VerdictIgnored:
		return false
	}
	return true
}

// verdictText is a verdict as the inspector shows it: a rejection reads
// "! replay (rejected)", so no colour is needed to see it and the reason
// survives when the row is cut.
func verdictText(v string) string {
	v = clean(v)
	if v == "" {
		return "?"
	}
	if IsRejectedVerdict(v) {
		return "! " + v + " (rejected)"
	}
	return v
}
