package chat

import (
	"strings"
	"time"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"duet/ui/style"
	"duet/ui/termsafe"
)

// Person is one side of the conversation. StableID is the key fingerprint
// when known; the name colour is hashed from it (from Name when it is empty).
type Person struct{ Name, StableID string }

// Delivery is the state of one of our messages. It only moves forward.
type Delivery int

// Delivery states, in order.
const (
	Queued Delivery = iota + 1
	Sent
	Delivered
	// Read: the peer's READ record named it (it was on the peer's screen
	// while its terminal had the focus). Above Delivered: a receipt that
	// arrives after the READ does not move it back.
	Read
)

// NoticeKind is the kind of a notice row.
type NoticeKind int

// Notice kinds.
const (
	NoticeInfo NoticeKind = iota + 1 // "session established", "peer left"
	NoticeGap                        // "3 messages never arrived"
	NoticeWarn                       // anything the reader must not miss
)

// firstSeq is the seq of the first item added: the seqs below it are for
// older history put in front (Prepend), so that seqs stay contiguous and
// in display order whichever end grows.
const firstSeq = 1 << 40

// MaxItems caps the scrollback; the oldest items are dropped beyond it.
const MaxItems = 50_000

const (
	maxPending   = 4096 // SetDelivery calls remembered for ids not yet added
	maxNameWidth = 12   // cells of the name column at most
	tabSpaces    = "    "
	dupFlag      = "[possible duplicate]"
)

// Delivery marks: a word-or-mark for every state, never colour alone.
// Read is heavy checks, also bold: the shape differs, not only the weight.
var deliveryMarks = [...]string{Queued: "…", Sent: "✓", Delivered: "✓✓", Read: "✔✔"}

// Notice marks, shown in the name column.
var noticeMarks = [...]string{NoticeInfo: "*", NoticeGap: "!", NoticeWarn: "!!"}

type kind uint8

const (
	kindOwn kind = iota
	kindPeer
	kindNotice
)

// item is one message or notice of the scrollback. It is kept small: most
// of the scrollback is never drawn, and only drawn items get a cache.
type item struct {
	seq      uint64 // position in the conversation, from 1, never reused
	id       uint64
	at       int64 // Unix milliseconds
	text     string
	cache    *itemCache // nil until the item is first drawn
	version  uint32     // bumped when the rendering of the item changes
	kind     kind
	notice   int8 // NoticeKind, small: there are many items
	delivery int8 // Delivery
	dup      bool
}

// itemCache holds what was drawn for an item.
type itemCache struct {
	// Rendered rows, valid for (w, m, v, g).
	rows []string
	w    int
	m    ansi.Method
	v    uint32
	g    uint32 // 0: no rows

	// Local day number, valid for the pane generation dayG.
	day  int32
	dayG uint32

	// Day separator row, valid for (sepW, sepM, sepG).
	sep  string
	sepW int
	sepM ansi.Method
	sepG uint32
}

func (it *item) time() time.Time { return time.UnixMilli(it.at) }

func (it *item) c() *itemCache {
	if it.cache == nil {
		it.cache = new(itemCache)
	}
	return it.cache
}

type pendingDelivery struct {
	d Delivery
	n uint64 // which queue entry owns it
}

type pendingKey struct {
	id uint64
	n  uint64
}

// styles are the styles the pane draws with, made inline so that no
// padding, margin, border or width set on a shared style can widen a row.
type styles struct {
	time, self, peer                      lipgloss.Style
	notice, gap, warn, marker, dup        lipgloss.Style
	queued, sent, delivered, daySeparator lipgloss.Style
	read                                  lipgloss.Style
}

func inline(s lipgloss.Style) lipgloss.Style {
	return s.Inline(true).UnsetWidth().UnsetMaxWidth().UnsetHeight().UnsetMaxHeight().
		UnsetPadding().UnsetMargins().UnsetTransform()
}

// layout is where the columns of a row start, for one pane width.
type layout struct {
	width   int
	timeW   int // 0: no time column
	nameW   int // 0: no name column
	markW   int // 0: no delivery gutter
	textCol int // cells before the text
}

// Pane is the chat pane. The zero value is not usable; call New.
type Pane struct {
	sty     styles
	self    Person
	peer    Person
	selfNm  string // sanitized names
	peerNm  string
	width   int
	height  int
	method  ansi.Method
	loc     *time.Location
	gen     uint32 // bumped when every item must be drawn again
	lay     layout
	layG    uint32
	markMax int // widest delivery mark

	items   []*item
	nextSeq uint64
	own     map[uint64]*item // our messages by id
	// says holds, by item seq, what the peer's clock claimed for the
	// messages shown at their arrival (AddPeerClock): rare, so not a
	// field of every item.
	says map[uint64]time.Time

	pending  map[uint64]pendingDelivery
	pendingQ []pendingKey
	pendingN uint64

	// Scroll position: when follow is false, the rows of the item anchor
	// (by seq) end the view, with off of them (counted from the bottom of
	// the item's block, separators included) hidden below.
	follow bool
	anchor uint64
	off    int

	unread   []uint64 // seqs of the peer's messages not yet seen, ascending
	markSeq  uint64   // the item under the "new messages" divider; 0: none (divider.go)
	markN    int      // unseen messages from the divider on
	markDone bool     // the reader has seen what is below the divider

	fold  fold      // the newest foldable notice (Fold)
	hl    highlight // a search's marks (highlight.go)
	links bool      // web addresses in messages are OSC 8 links (SetLinks)
}

// New returns an empty pane following the newest messages, of size 0x0
// until SetSize. The styles are copied now (call SetStyles after changing
// them); st may be nil for style.DefaultStyles.
func New(st *style.Styles, self, peer Person) *Pane {
	p := &Pane{
		self:    self,
		peer:    peer,
		method:  ansi.WcWidth,
		loc:     time.Local,
		gen:     1,
		nextSeq: firstSeq,
		own:     make(map[uint64]*item),
		says:    make(map[uint64]time.Time),
		pending: make(map[uint64]pendingDelivery),
		follow:  true,
	}
	for _, m := range deliveryMarks {
		p.markMax = max(p.markMax, safeWidth(m))
	}
	p.setStyles(st)
	p.setNames()
	return p
}

func (p *Pane) setStyles(st *style.Styles) {
	if st == nil {
		d := style.DefaultStyles()
		st = &d
	}
	p.sty = styles{
		time:         inline(st.Time),
		self:         inline(st.Self),
		notice:       inline(st.Notice),
		gap:          inline(st.Gap),
		warn:         inline(st.Warn),
		marker:       inline(st.NewMarker),
		dup:          inline(st.Duplicate),
		queued:       inline(st.Queued),
		sent:         inline(st.Sent),
		delivered:    inline(st.Delivered),
		read:         inline(st.Delivered).Bold(true),
		daySeparator: inline(st.Notice),
	}
}

func (p *Pane) setNames() {
	p.selfNm = termsafe.Name(p.self.Name)
	p.peerNm = termsafe.Name(p.peer.Name)
	id := p.peer.StableID
	if id == "" {
		id = p.peer.Name
	}
	p.sty.peer = inline(style.PersonStyle(id))
}

// invalidate drops every cached row and keeps the position valid.
func (p *Pane) invalidate() {
	p.gen++
	if p.gen == 0 {
		p.gen = 1
	}
	p.clampTop()
}

// SetPeer changes the peer's name or key (their messages are redrawn).
func (p *Pane) SetPeer(peer Person) {
	p.peer = peer
	p.setNames()
	p.invalidate()
}

// SetSelf changes our own name.
func (p *Pane) SetSelf(self Person) {
	p.self = self
	p.setNames()
	p.invalidate()
}

// SetStyles changes the styles (after a theme change); nil means
// style.DefaultStyles.
func (p *Pane) SetStyles(st *style.Styles) {
	p.setStyles(st)
	p.setNames()
	p.invalidate()
}

// SetSize sets the pane's size in cells; negative values count as 0.
func (p *Pane) SetSize(width, height int) {
	p.width, p.height = max(width, 0), max(height, 0)
	p.clampTop()
}

// Width and Height return the size set by SetSize.
func (p *Pane) Width() int { return p.width }

// Height returns the height set by SetSize.
func (p *Pane) Height() int { return p.height }

// SetWidthMethod sets the method the renderer measures cells with:
// ansi.WcWidth (the default, Bubble Tea's unless the terminal reports
// Unicode core mode 2027) or ansi.GraphemeWidth. Rows are aligned for it and
// bounded under both (see the package doc).
func (p *Pane) SetWidthMethod(m ansi.Method) {
	if m != ansi.GraphemeWidth {
		m = ansi.WcWidth
	}
	if m == p.method {
		return
	}
	p.method = m
	p.clampTop()
}

// WidthMethod returns the method set by SetWidthMethod.
func (p *Pane) WidthMethod() ansi.Method { return p.method }

// SetClock sets the time zone of times and day separators; nil means
// time.Local.
func (p *Pane) SetClock(loc *time.Location) {
	if loc == nil {
		loc = time.Local
	}
	p.loc = loc
	p.invalidate()
}

// AddOwn appends our message id, written at at, in state Queued (or the
// state an earlier SetDelivery for id asked for).
func (p *Pane) AddOwn(id uint64, text string, at time.Time) {
	it := &item{id: id, at: at.UnixMilli(), text: text, kind: kindOwn, delivery: int8(Queued)}
	if pd, ok := p.pending[id]; ok {
		delete(p.pending, id)
		it.delivery = int8(max(Delivery(it.delivery), pd.d))
	}
	p.own[id] = it
	p.add(it)
	p.dropDivider() // the reader has read up to here
}

// SetDelivery moves our message id forward to state d, in place; a state
// older than the current one is ignored. For an id not added yet the state
// is remembered (the last 4096 such ids) and applied by AddOwn.
func (p *Pane) SetDelivery(id uint64, d Delivery) {
	if d < Queued || d > Read {
		return
	}
	if it := p.own[id]; it != nil {
		if d > Delivery(it.delivery) {
			it.delivery = int8(d)
			it.version++
		}
		return
	}
	if pd, ok := p.pending[id]; ok {
		pd.d = max(pd.d, d)
		p.pending[id] = pd
		return
	}
	p.pendingN++
	p.pending[id] = pendingDelivery{d: d, n: p.pendingN}
	p.pendingQ = append(p.pendingQ, pendingKey{id: id, n: p.pendingN})
	for len(p.pending) > maxPending {
		k := p.pendingQ[0]
		p.pendingQ = p.pendingQ[1:]
		if pd, ok := p.pending[k.id]; ok && pd.n == k.n {
			delete(p.pending, k.id)
		}
	}
	if len(p.pendingQ) > 2*maxPending { // drop entries consumed by AddOwn
		q := make([]pendingKey, 0, len(p.pending))
		for _, k := range p.pendingQ {
			if pd, ok := p.pending[k.id]; ok && pd.n == k.n {
				q = append(q, k)
			}
		}
		p.pendingQ = q
	}
}

// Delivery returns the state of our message id, or 0 if it is not in the
// scrollback.
func (p *Pane) Delivery(id uint64) Delivery {
	if it := p.own[id]; it != nil {
		return Delivery(it.delivery)
	}
	return 0
}

// AddPeer appends the peer's message id, written at at. possibleDuplicate
// marks it with a visible "[possible duplicate]" flag.
func (p *Pane) AddPeer(id uint64, text string, at time.Time, possibleDuplicate bool) {
	it := &item{id: id, at: at.UnixMilli(), text: text, kind: kindPeer, dup: possibleDuplicate}
	p.add(it)
	if !p.follow {
		p.unseenArrived(it.seq)
	}
}

// AddPeerClock is AddPeer for a message shown at at, its local arrival
// time, because the time it carries (says) is implausible: its text is
// flagged "(peer's clock says ...)" with says in the pane's time zone, and
// its row (and day separators) go by at.
func (p *Pane) AddPeerClock(id uint64, text string, at, says time.Time, possibleDuplicate bool) {
	p.AddPeer(id, text, at, possibleDuplicate)
	p.says[p.items[len(p.items)-1].seq] = says
}

// AddNotice appends a notice row, such as "session established", "3
// messages never arrived" (NoticeGap) or "peer left".
func (p *Pane) AddNotice(kind NoticeKind, text string, at time.Time) {
	if kind < NoticeInfo || kind > NoticeWarn {
		kind = NoticeInfo
	}
	p.add(&item{at: at.UnixMilli(), text: text, kind: kindNotice, notice: int8(kind)})
}

// Entry is one message of earlier history, for Prepend.
type Entry struct {
	ID                uint64
	Own               bool // we wrote it
	Text              string
	At                time.Time
	PossibleDuplicate bool
	// Delivery is what is known of our message's delivery when it was
	// read from the history (0: nothing; Queued: no receipt known yet, it
	// is resent; Delivered: the peer acknowledged it).
	Delivery Delivery
	// ClaimedAt is zero, or the time a peer's message claimed when it was
	// implausible (At is then its arrival): it is flagged "(peer's clock
	// says ...)" as when it arrived.
	ClaimedAt time.Time
}

// Prepend puts older messages (oldest first) in front of the oldest item,
// without moving the view: a reader at the top stays on the rows they were
// reading and can scroll further up. Our own messages from history carry
// the entry's Delivery, moved forward by any SetDelivery already made for
// them (the node reports the ones still in its outbox when it resends
// them). Only as many as fit under
// MaxItems are kept (the newest of entries); an id already in the
// scrollback is skipped. A peer's entry with ClaimedAt is flagged "(peer's
// clock says ...)" as AddPeerClock flags it.
func (p *Pane) Prepend(entries []Entry) {
	room := MaxItems - len(p.items)
	if room <= 0 || len(entries) == 0 {
		return
	}
	if len(entries) > room {
		entries = entries[len(entries)-room:]
	}
	seq := uint64(firstSeq)
	if len(p.items) > 0 {
		seq = p.items[0].seq
	} else {
		p.nextSeq = firstSeq
	}
	front := make([]*item, 0, len(entries))
	claimed := make([]time.Time, 0, len(entries)) // ClaimedAt of front[i]
	for _, e := range entries {
		if e.Own && p.own[e.ID] != nil {
			continue
		}
		it := &item{id: e.ID, at: e.At.UnixMilli(), text: e.Text, kind: kindPeer, dup: e.PossibleDuplicate}
		if e.Own {
			it.kind = kindOwn
			it.delivery = int8(e.Delivery)
			if pd, ok := p.pending[e.ID]; ok {
				delete(p.pending, e.ID)
				it.delivery = int8(max(e.Delivery, pd.d))
			}
			p.own[e.ID] = it
		}
		front = append(front, it)
		claimed = append(claimed, e.ClaimedAt)
	}
	if uint64(len(front)) >= seq {
		return // cannot happen: 2^40 items of history
	}
	for i, it := range front {
		it.seq = seq - uint64(len(front)-i)
		if !claimed[i].IsZero() && it.kind == kindPeer {
			p.says[it.seq] = claimed[i]
		}
	}
	p.items = append(front, p.items...)
	p.invalidate() // the first item's day separator may change
}

// AtTop reports whether the first row of the scrollback is in view (also
// when everything fits in the pane): the moment to fetch older history. It
// looks at no more items than fill the view.
func (p *Pane) AtTop() bool {
	if len(p.items) == 0 {
		return true
	}
	idx, off := p.pos()
	rows := p.blockLen(idx) - off
	for j := idx - 1; j >= 0 && rows <= p.height; j-- {
		rows += p.blockLen(j)
	}
	return rows <= p.height
}

func (p *Pane) add(it *item) {
	it.seq = p.nextSeq
	p.nextSeq++
	p.items = append(p.items, it)
	if extra := len(p.items) - MaxItems; extra > 0 {
		p.dropOldest(extra)
	}
}

func (p *Pane) dropOldest(k int) {
	for i := range k {
		it := p.items[i]
		if it.kind == kindOwn && p.own[it.id] == it {
			delete(p.own, it.id)
		}
		delete(p.says, it.seq)
		p.items[i] = nil
	}
	p.items = p.items[k:]
	first := p.items[0].seq
	n := 0
	for n < len(p.unread) && p.unread[n] < first {
		n++
	}
	p.unread = p.unread[n:]
	if p.markSeq != 0 && p.markSeq < first {
		p.markSeq, p.markN, p.markDone = 0, 0, false
	}
	// The new first item gains a day separator and the anchor may be gone:
	// only a position near the top can be affected.
	if !p.follow && p.anchor <= first+uint64(p.height) {
		p.clampTop()
	}
}

// Clear empties the scrollback and follows the bottom again. States
// remembered for ids not yet added are kept.
func (p *Pane) Clear() {
	p.items = nil
	clear(p.own)
	clear(p.says)
	p.toBottom()
	p.markSeq, p.markN, p.markDone = 0, 0, false
}

// Len returns the number of items (messages and notices) in the scrollback.
func (p *Pane) Len() int { return len(p.items) }

// Unread returns how many of the peer's messages arrived while the pane was
// scrolled up and have not been in view since.
func (p *Pane) Unread() int { return len(p.unread) }

// AtBottom reports whether the pane follows the newest messages.
func (p *Pane) AtBottom() bool { return p.follow }

// View renders the pane: exactly Height rows joined by "\n", none wider
// than Width under ansi.WcWidth or ansi.GraphemeWidth. When the scrollback
// is shorter than the pane, it sits at the bottom.
func (p *Pane) View() string {
	h := p.height
	if h <= 0 {
		return ""
	}
	rows := make([]string, h)
	if len(p.items) > 0 {
		idx, off := p.pos()
		n := 0
		for i := idx; i >= 0 && n < h; i-- {
			j := p.blockLen(i) - 1
			if i == idx {
				j -= off
			}
			for ; j >= 0 && n < h; j-- {
				rows[h-1-n] = p.blockRow(i, j)
				n++
			}
		}
	}
	return strings.Join(rows, "\n")
}
