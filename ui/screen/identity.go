package screen

import (
	"strings"

	"duet/ui/panel"
	"duet/ui/termsafe"
	"duet/ui/words"
)

// fingerprintNotice is /fingerprint's notice: both fingerprints, each on
// rows of whole groups laid out as /verify lays them out (never a group
// split across lines at the chat's current width).
func (s *Screen) fingerprintNotice() string {
	w := max(1, s.chat.TextWidth()-2)
	rows := func(fp string) string {
		if fp == "" {
			return "  " + words.NotKnownYet
		}
		return "  " + strings.Join(panel.FingerprintRows(termsafe.Sanitize(fp), w), "\n  ")
	}
	return words.YourFingerprint + "\n" + rows(s.cfg.SelfFP) + "\n" +
		words.PeerFingerprint(s.peerName) + "\n" + rows(s.peerFP)
}
