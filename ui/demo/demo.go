// Package demo is `duet demo`: alice's full screen, bob (a bot in this
// process) and a man in the middle between them, on duet's own transport
// over loopback. It writes nothing to disk: the keys are fresh and the
// known key is kept in memory.
package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	tea "charm.land/bubbletea/v2"

	"duet/crypto"
	"duet/protocol"
	"duet/protocol/mitm"
	"duet/ui/screen"
	"duet/ui/words"
)

// Deps is what Run takes from main: what needs the network (free ports, and
// a transport opener, since no ui package imports duet/net) and the three
// keys, made before the ports are chosen so that they stay free for as
// short a time as possible.
type Deps struct {
	// Keys are three fresh keys; Run gives them out (roles).
	Keys [3]*crypto.Identity
	// Ports: alice's main port, the MITM's port for alice (alice's sub),
	// bob's main port, the MITM's port for bob (bob's sub).
	Ports [4]int
	// Open opens a transport that binds main and sends to sub.
	Open func(ctx context.Context, main, sub int) (protocol.Transport, error)
}

// Demo timings.
const (
	pingInterval       = time.Second
	replyDelay         = 700 * time.Millisecond // bob "types"
	defaultKeySubLasts = 8 * time.Second        // then the MITM lets keys (downgrade: hellos) pass again
	echoMaxRunes       = 40
	// demoWindow is both nodes' timestamp window (the default is 30 s), so
	// that /attack stale, which holds bob's records for the window plus a
	// second, is over in 6 s. The screen says so.
	demoWindow = 5 * time.Second
	// /attack steal: bob heals his keys this long after the theft, and the
	// thief is sent away this long after the healing.
	defaultStealFor = 4 * time.Second
)

// attackList is what /attack offers, in the order its help lists them.
const attackList = "replay|tamper|reorder|drop|stale|reflect|keysub|downgrade|impersonate|steal"

// Run is `duet demo`: the full screen as alice, talking to bob, a bot
// in this process, through a man in the middle (mitm.Relay), all over
// duet's own ZeroMQ transport on loopback. /attack makes the MITM attack
// what bob sends, so alice's screen shows each attack refused. It returns
// when the screen quits.
func Run(ctx context.Context, d Deps, opts ...tea.ProgramOption) error {
	pA, mA, pB, mB := d.Ports[0], d.Ports[1], d.Ports[2], d.Ports[3]
	aliceID, bobID, mitmID := roles(d.Keys)
	// Four transports: alice's, bob's, and the MITM's facing each.
	var trs [4]protocol.Transport
	defer func() {
		for _, tr := range trs {
			if tr != nil {
				_ = tr.Close()
			}
		}
	}()
	for i, ends := range [4][2]int{{pA, mA}, {pB, mB}, {mA, pA}, {mB, pB}} {
		tr, err := d.Open(ctx, ends[0], ends[1])
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		trs[i] = tr
	}
	ta, tb, toA, toB := trs[0], trs[1], trs[2], trs[3]

	sink := screen.NewSink()
	records := &protocol.RecordLog{}
	pin := &pinFirst{}
	alice, err := protocol.NewNode(protocol.Config{Identity: aliceID, PingInterval: pingInterval, Window: demoWindow, Records: records, VerifyPeer: pin.verify}, ta, sink.Emit)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	var tell teller
	var at *attacks // set before the relay runs
	m := mitm.New(func(ev protocol.Event) {
		e, ok := ev.(mitm.Event)
		if !ok {
			return
		}
		at.relayed(e)
		if tell.tells(e) {
			sink.Post(screen.NoticeMsg{Text: "man in the middle: " + words.MITMNamed(e, "alice", "bob", " → "), Warn: true})
		}
	}, mitmID.Public())
	m.ImpersonateAs(mitmID)
	m.SetWindow(demoWindow)
	bob := &bot{id: bobID, tr: tb, post: sink.Post, window: demoWindow}
	at = &attacks{m: m, bob: bob, post: sink.Post, window: demoWindow}

	cfg := screen.Config{
		SelfName: "alice", PeerName: "bob", SelfFP: aliceID.Public().Fingerprint().String(),
		MainPort: pA, SubPort: mA, PeerHost: "127.0.0.1", PingInterval: pingInterval,
		Node: alice, Records: records,
		MarkVerified: pin.markVerified, // in memory: the demo writes nothing
		Notices: []string{
			fmt.Sprintf("duet demo: you are alice; bob is a bot in this process. A man in the middle relays every byte between you (alice :%d ⇄ MITM :%d/:%d ⇄ bob :%d); it holds no key.", pA, mA, mB, pB),
			"/attack " + strings.ReplaceAll(attackList, "|", ", ") + ": it attacks what bob sends (reflect: what you send), bob sends one message, and your duet refuses the attack (F4: security log). /quit ends the demo.",
			fmt.Sprintf("This demo's timestamp window is %s (duet's default is 30 s), so that /attack stale is over in %s.", seconds(demoWindow), seconds(demoWindow+time.Second)),
		},
		Extra: []screen.ExtraCommand{{Name: "/attack", Help: "demo: " + attackList + "|off", Run: at.run}},
	}
	// The MITM and bob run until alice's node stops (the screen quit).
	relayCtx, stopRelay := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRelay()
	at.ctx = relayCtx
	run := func(ctx context.Context) error {
		var wg sync.WaitGroup
		defer func() { stopRelay(); bob.stop(); wg.Wait() }()
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := m.Run(relayCtx, toA, toB); err != nil {
				sink.Post(screen.NoticeMsg{Text: "man in the middle stopped: " + err.Error(), Warn: true})
			}
		}()
		if err := bob.start(relayCtx); err != nil {
			return err
		}
		return alice.Run(ctx)
	}
	return screen.Run(ctx, cfg, sink, run, opts...)
}

// roles gives out three keys: the MITM gets the one whose fingerprint
// lies between the other two, so that keysub keeps each side's handshake
// role (roles follow fingerprint order) and the refusal is the signature
// check (see mitm.New); alice gets the highest, so bob starts the
// handshake and alice is the one who checks his hello and refuses it, on
// the screen.
func roles(keys [3]*crypto.Identity) (alice, bob, mitm *crypto.Identity) {
	k := keys
	slices.SortFunc(k[:], func(a, b *crypto.Identity) int {
		fa, fb := a.Public().Fingerprint(), b.Public().Fingerprint()
		return bytes.Compare(fa[:], fb[:])
	})
	return k[2], k[0], k[1]
}

// teller decides which of the MITM's events the demo tells alice about.
// keysub and downgrade change a handshake message on every retry while
// they last: of those, the first of each flow is told (until the flow is
// disarmed), not every retry's.
type teller struct {
	mu     sync.Mutex
	shown  [2]bool // a handshake message of the flow was told as changed
	healed [2]bool // steal: a record after the healing was told unreadable
}

// tells reports whether the demo tells alice about e (tellsAlice), once
// for the handshake attacks.
func (t *teller) tells(e mitm.Event) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case e.Action == mitm.Disarmed:
		t.shown[e.Flow], t.healed[e.Flow] = false, false
	case e.Action == mitm.Armed && e.Attack == mitm.Steal:
		t.healed[e.Flow] = false
	case e.Action == mitm.Unreadable && e.Why == mitm.WhyHealed && !t.healed[e.Flow]:
		// the first record after the healing is told, whatever its type
		t.healed[e.Flow] = true
		return true
	case isHandshakeAttack(e) && t.shown[e.Flow]:
		return false
	case isHandshakeAttack(e):
		t.shown[e.Flow] = true
	}
	return tellsAlice(e)
}

// tellsAlice reports whether the demo tells alice about e: what the man in
// the middle did to a message, not its plain relaying.
func tellsAlice(e mitm.Event) bool {
	switch e.Action {
	case mitm.Held, mitm.Released:
		// stale holds every record of the flow: told for CHAT records only
		return e.Attack != mitm.Stale || protocol.IsChatRecord(e.Type)
	case mitm.Replayed, mitm.Tampered, mitm.Dropped, mitm.Substituted, mitm.Stripped,
		mitm.ImpostorSession, mitm.Intercepted, mitm.Reflected:
		return true
	case mitm.Armed:
		return e.Attack == mitm.Steal
	case mitm.Read, mitm.Unreadable:
		// steal: bob's chat and his healing; not each ping and receipt
		return protocol.IsChatRecord(e.Type) || e.Type == protocol.TypeHeal || e.Type == protocol.TypeHealAck
	}
	return false
}

// isHandshakeAttack reports whether e is a handshake message the MITM
// changed (keysub, downgrade): it does so on every retry while the attack
// lasts, and the demo tells alice of the first only.
func isHandshakeAttack(e mitm.Event) bool {
	return e.Action == mitm.Substituted || e.Action == mitm.Stripped
}

// pinFirst is alice's key pinning, in memory: the first key a handshake
// shows is bob's (fresh keys on both sides: new to alice, until /verify);
// any other is refused as a changed key (key-changed), as known_peers does.
type pinFirst struct {
	mu       sync.Mutex
	pinned   *crypto.Fingerprint
	verified bool
}

// verify is alice's Config.VerifyPeer.
func (p *pinFirst) verify(k *crypto.PublicKey) (crypto.Trust, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fp := k.Fingerprint()
	if p.pinned == nil {
		p.pinned = &fp
	}
	if fp != *p.pinned {
		return crypto.TrustUnknown, fmt.Errorf("bob's key is %s, this one is %s: %w", p.pinned.Short(), fp.Short(), crypto.ErrKeyChanged)
	}
	if p.verified {
		return crypto.TrustVerified, nil
	}
	return crypto.TrustNew, nil
}

// markVerified is /verify's confirmation: bob's key is verified from now
// on (in memory).
func (p *pinFirst) markVerified() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.verified = true
	return nil
}

// bot is the demo's other peer: a node that greets alice, answers
// each of her messages, and can be restarted (keysub).
type bot struct {
	id          *crypto.Identity
	tr          protocol.Transport
	post        func(tea.Msg)
	ping        time.Duration // pingInterval if 0
	resendAfter time.Duration // the node's default (3 s) if 0
	window      time.Duration // the node's default (30 s) if 0

	mu      sync.Mutex
	node    *protocol.Node
	cancel  context.CancelFunc
	done    chan struct{}
	ctx     context.Context
	greeted bool
	replies int
	// onHealed runs once (in its own goroutine) when bob's sending
	// direction next heals (/attack steal).
	onHealed func()
}

func (b *bot) start(ctx context.Context) error {
	ping := b.ping
	if ping == 0 {
		ping = pingInterval
	}
	n, err := protocol.NewNode(protocol.Config{Identity: b.id, PingInterval: ping, ResendAfter: b.resendAfter, Window: b.window}, b.tr, b.emit)
	if err != nil {
		return fmt.Errorf("demo: bob: %w", err)
	}
	nctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	b.mu.Lock()
	b.node, b.cancel, b.done, b.ctx = n, cancel, done, ctx
	b.mu.Unlock()
	go func() {
		defer close(done)
		_ = n.Run(nctx)
	}()
	return nil
}

// stop stops bob's node and waits for it.
func (b *bot) stop() {
	b.mu.Lock()
	cancel, done := b.cancel, b.done
	b.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// restart stops bob's node and starts a new one with the same key, as a
// restarted process would be: it begins a new handshake.
func (b *bot) restart() error {
	b.stop()
	b.mu.Lock()
	ctx := b.ctx
	b.mu.Unlock()
	if ctx == nil || ctx.Err() != nil {
		return errors.New("the demo is stopping")
	}
	return b.start(ctx)
}

// say has bob send text (after his typing delay).
func (b *bot) say(text string) {
	b.mu.Lock()
	n, ctx := b.node, b.ctx
	b.mu.Unlock()
	if n == nil {
		return
	}
	go func() {
		select {
		case <-time.After(replyDelay):
		case <-ctx.Done():
			return
		}
		if _, err := n.SendMessage(text); err != nil {
			b.post(screen.NoticeMsg{Text: "bob could not send: " + err.Error(), Warn: true})
		}
	}()
}

// current is bob's running node (nil before start).
func (b *bot) current() *protocol.Node {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.node
}

// whenHealed has f run once, when bob's sending direction next heals.
func (b *bot) whenHealed(f func()) {
	b.mu.Lock()
	b.onHealed = f
	b.mu.Unlock()
}

// sayNow has bob send text at once; it returns the error.
func (b *bot) sayNow(text string) error {
	b.mu.Lock()
	n := b.node
	b.mu.Unlock()
	if n == nil {
		return errors.New("bob is not running")
	}
	_, err := n.SendMessage(text)
	return err
}

var botReplies = []string{
	"got it: “%s”. It crossed the man in the middle untouched: only you and I hold the keys.",
	"received “%s”. Now try /attack replay: the man in the middle sends my last message again.",
	"read you: “%s”. /attack reorder holds one of my messages back and delivers it late.",
	"noted: “%s”. /attack drop makes one of mine vanish on the way; my duet sends it again.",
	"ok: “%s”. /attack keysub restarts me behind a man in the middle that swaps our keys; /attack downgrade, behind one that strips our post-quantum key share.",
	"heard: “%s”. /attack stale holds my next message past your time window; /attack reflect sends your own records back to you.",
	"understood: “%s”. /attack steal hands the man in the middle a copy of my keys, as malware on my machine would: watch what it can read, and when it stops.",
}

func (b *bot) emit(ev protocol.Event) {
	switch e := ev.(type) {
	case protocol.SessionEvent:
		if e.State == protocol.SessionRekeyed && e.Direction == protocol.DirectionSend {
			b.mu.Lock()
			f := b.onHealed
			b.onHealed = nil
			b.mu.Unlock()
			if f != nil {
				go f()
			}
		}
		if e.State != protocol.SessionEstablished {
			return
		}
		b.mu.Lock()
		first := !b.greeted
		b.greeted = true
		b.mu.Unlock()
		if first {
			b.say("hi alice! I'm bob, a bot in this process. Everything we say goes through a man in the middle: type /attack tamper, and watch.")
		}
	case protocol.MessageEvent:
		b.mu.Lock()
		i := b.replies % len(botReplies)
		b.replies++
		b.mu.Unlock()
		b.say(fmt.Sprintf(botReplies[i], clip(e.Text, echoMaxRunes)))
	case protocol.RejectedEvent:
		b.post(screen.NoticeMsg{Text: fmt.Sprintf("bob's duet refused a message: %s", e.Reason), Warn: true})
	}
}

// seconds is d as people write it: "5 s".
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + " s"
}

// clip shortens s to n runes on one line.
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// attacks is /attack: it arms the MITM against what bob sends (reflect:
// what alice sends), and has bob send one message.
type attacks struct {
	m         *mitm.Relay
	bob       *bot
	post      func(tea.Msg)
	ctx       context.Context // the relay's; set before the screen runs
	keySubFor time.Duration   // how long keysub lasts (defaultKeySubLasts if 0)
	window    time.Duration   // the nodes' timestamp window (the MITM's SetWindow)
	stealFor  time.Duration   // steal: theft to healing, healing to disarm (defaultStealFor if 0)

	replayNext atomic.Bool // replay bob's next CHAT record once it is relayed
	stealNext  atomic.Bool // steal bob's keys once his next CHAT record is relayed
	stealing   atomic.Bool // a theft is under way (until the thief is sent away)
}

var attackLines = map[mitm.Attack]string{
	mitm.Replay:  "the man in the middle sends this message to you twice: your duet shows it once and refuses the copy (replay)",
	mitm.Tamper:  "this message gets one bit flipped on its way: your duet refuses it, and mine sends it again in 3 s",
	mitm.Reorder: "this message is held back and delivered after my next record: your duet refuses it as out of order, and mine sends it again",
	mitm.Drop:    "this message is dropped on its way: your duet sees a gap, and mine sends it again in 3 s",
	mitm.Stale:   "this message, and all I send after it, is held back for %v, past your %v time window: your duet refuses it as stale, and mine sends it again",
	mitm.Reflect: "this message passes untouched; the man in the middle sends your own next record back to you: your duet knows it for its own and refuses it (reflected)",
	mitm.KeySub:  "I restarted behind a man in the middle that swaps our keys: this message waits on my side until our new session",
	mitm.Downgrade: "I restarted behind a man in the middle that strips the ML-KEM (post-quantum) share from our handshake: " +
		"this message waits on my side until our new session",
}

// relayed is called with each of the MITM's events: it replays bob's
// CHAT record once it has gone through (/attack replay).
func (a *attacks) relayed(e mitm.Event) {
	if a == nil || e.Action != mitm.Relayed || e.Flow != mitm.FlowBA || !protocol.IsChatRecord(e.Type) {
		return
	}
	if a.stealNext.CompareAndSwap(true, false) {
		go a.theft()
	}
	if !a.replayNext.CompareAndSwap(true, false) {
		return
	}
	go func() {
		if err := a.m.Arm(a.ctx, mitm.FlowBA, mitm.Replay); err != nil {
			a.post(screen.NoticeMsg{Text: "the man in the middle could not replay: " + err.Error(), Warn: true})
		}
	}()
}

func (a *attacks) keySubLasts() time.Duration {
	if a.keySubFor > 0 {
		return a.keySubFor
	}
	return defaultKeySubLasts
}

func (a *attacks) run(args string) (string, error) {
	ctx := a.ctx
	if ctx == nil {
		return "", errors.New("the man in the middle is not running yet")
	}
	switch args {
	case "", "help":
		return "usage: /attack " + attackList + "|off: the man in the middle attacks what bob sends (reflect: what you send), and bob sends one message", nil
	case "off", "pass":
		a.m.Disarm(mitm.FlowAB)
		a.m.Disarm(mitm.FlowBA)
		return "the man in the middle passes everything on unchanged again", nil
	}
	at, err := mitm.ParseAttack(args)
	if err != nil {
		return "", err
	}
	switch at {
	case mitm.Replay:
		a.replayNext.Store(true)
		if err := a.bob.sayNow(attackLines[at]); err != nil {
			a.replayNext.Store(false)
			return "", fmt.Errorf("bob could not send: %w", err)
		}
		return "bob sends one message; once it has gone through, the man in the middle sends it again: your duet must refuse the copy (replay)", nil
	case mitm.Reflect:
		if err := a.m.Arm(ctx, mitm.FlowAB, at); err != nil {
			return "", err
		}
		if err := a.bob.sayNow(attackLines[at]); err != nil {
			return "", fmt.Errorf("bob could not send: %w", err)
		}
		return "armed reflect on your next record: the man in the middle passes it on to bob and sends a copy back to you; bob sends one message", nil
	case mitm.Impersonate:
		if err := a.m.Arm(ctx, mitm.FlowAB, at); err != nil {
			return "", err
		}
		go func() {
			// bob, who pins nothing, takes the MITM for alice: what he
			// says now is read by the MITM, and goes no further.
			select {
			case <-time.After(2 * time.Second):
			case <-ctx.Done():
				return
			}
			_ = a.bob.sayNow("alice, are you there? (bob, now talking to the man in the middle without knowing it)")
			select {
			case <-time.After(a.keySubLasts()):
			case <-ctx.Done():
				return
			}
			a.m.Disarm(mitm.FlowAB)
			a.post(screen.NoticeMsg{Text: "the man in the middle stops impersonating; bob restarts and finds you again"})
			if err := a.bob.restart(); err != nil {
				a.post(screen.NoticeMsg{Text: "bob could not restart: " + err.Error(), Warn: true})
			}
		}()
		return fmt.Sprintf("the man in the middle answers each of you as the other, with its own key. You know bob's key: your duet refuses it (key-changed). bob knows none (he pins nothing), so he takes it. For %v.", a.keySubLasts()), nil
	case mitm.Downgrade:
		return a.downgrade(ctx)
	case mitm.Steal:
		return a.steal()
	case mitm.KeySub:
		if err := a.restartBehind(ctx, at, "the man in the middle lets the keys through again: bob's next attempt makes a new session"); err != nil {
			return "", err
		}
		return fmt.Sprintf("bob restarted; the man in the middle puts its own key in both public keys: the handshake fails (bad-signature) until it stops, in %v. Your session with bob goes on meanwhile.", a.keySubLasts()), nil
	}
	if err := a.m.Arm(ctx, mitm.FlowBA, at); err != nil {
		return "", err
	}
	line := attackLines[at]
	if at == mitm.Stale {
		line = fmt.Sprintf(line, seconds(a.window+time.Second), seconds(a.window))
	}
	if err := a.bob.sayNow(line); err != nil {
		return "", fmt.Errorf("bob could not send: %w", err)
	}
	return fmt.Sprintf("armed %s on bob's next message; bob sends one now", at), nil
}

// downgrade is /attack downgrade: bob restarts behind a MITM that cuts the
// ML-KEM share out of every hello, both ways (bob, whose key sorts first,
// sends the initiator's hello): alice refuses his as a downgrade until
// the MITM lets hellos through whole, after keySubLasts; bob's next
// attempt then makes a new session, with the same keys.
func (a *attacks) downgrade(ctx context.Context) (string, error) {
	if err := a.restartBehind(ctx, mitm.Downgrade, "the man in the middle lets hellos through whole again: bob's next attempt makes a new session"); err != nil {
		return "", err
	}
	return fmt.Sprintf("bob restarted; the man in the middle cuts the ML-KEM (post-quantum) share out of his hello, leaving version 1's layout: "+
		"your duet refuses it (downgrade) until it stops, in %s. There is no fallback to the classical handshake.", seconds(a.keySubLasts())), nil
}

// restartBehind arms at on both flows (a handshake attack: it stays on),
// restarts bob behind it and has him send his line for at; after
// keySubLasts the MITM is disarmed and released is posted.
func (a *attacks) restartBehind(ctx context.Context, at mitm.Attack, released string) error {
	for _, f := range []mitm.Flow{mitm.FlowAB, mitm.FlowBA} {
		if err := a.m.Arm(ctx, f, at); err != nil {
			return err
		}
	}
	if err := a.bob.restart(); err != nil {
		return err
	}
	if err := a.bob.sayNow(attackLines[at]); err != nil {
		return fmt.Errorf("bob could not send: %w", err)
	}
	go func() {
		select {
		case <-time.After(a.keySubLasts()):
		case <-ctx.Done():
			return
		}
		a.m.Disarm(mitm.FlowAB)
		a.m.Disarm(mitm.FlowBA)
		a.post(screen.NoticeMsg{Text: released})
	}()
	return nil
}
