package ui

import (
	"duet/ui/termsafe"
	"duet/ui/words"
)

// ids is what the line mode's /verify and /fingerprint show: our
// fingerprint (Ready), the peer's and the safety number (the last session
// established).
type ids struct {
	self, peer, safety string
}

// Command answers the line mode's commands that only show what Lines
// already knows: /verify, /fingerprint and /help. It reports whether name
// was one of them.
func (l *Lines) Command(name string) bool {
	switch name {
	case "/verify":
		l.verify()
	case "/fingerprint":
		l.fingerprints()
	case "/help":
		for _, h := range words.LineHelp {
			l.put("* %s", h)
		}
	default:
		return false
	}
	return true
}

func (l *Lines) known() ids {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ids
}

// verify prints the safety number in rows of 3 groups of 5 digits (as the
// full screen's /verify), the peer's fingerprint, and how to compare.
func (l *Lines) verify() {
	k := l.known()
	if k.safety == "" {
		l.put("* %s", words.NoSafetyYet)
		return
	}
	l.put("* safety number with %s:", termsafe.Sanitize(l.peerName))
	for _, r := range words.GroupRows(k.safety, 5, 3) {
		l.put("*   %s", r)
	}
	l.put("* %s", words.LineVerifyHint)
}

// fingerprints prints both fingerprints in rows of 8 groups of 4.
func (l *Lines) fingerprints() {
	k := l.known()
	l.put("* %s", words.YourFingerprint)
	l.rows(k.self)
	l.put("* %s", words.PeerFingerprint(termsafe.Sanitize(l.peerName)))
	l.rows(k.peer)
}

func (l *Lines) rows(fp string) {
	if fp == "" {
		l.put("*   %s", words.NotKnownYet)
		return
	}
	for _, r := range words.GroupRows(termsafe.Sanitize(fp), 4, 8) {
		l.put("*   %s", r)
	}
}
