package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"duet/crypto"
)

// reflectVector is testdata/vectors/reflect.json: a session record sent
// back to its own sender (docs/PROTOCOL.md section 8, step 3). The record
// is A's CHAT record of handshake.json; A, in the state after sealing its
// CONFIRM, CHAT and GOODBYE records there, receives it and must refuse it
// with Reason: it carries a nonce A used and the tag A sent with it (A
// keeps the tag by nonce), found before the seq and key checks.
type reflectVector struct {
	Comment      string   `json:"comment"`
	Handshake    string   `json:"handshake"`
	RecordField  string   `json:"record_field"`
	Record       hexBytes `json:"record"`
	Receiver     string   `json:"receiver"`
	OpensUnder   string   `json:"opens_under"`
	TimeUnixNano int64    `json:"time_unix_nano"`
	Reason       string   `json:"reason"`
}

// sessionAFromVector rebuilds A's record layer from handshake.json alone
// and replays its three sealed records (CONFIRM, CHAT, GOODBYE), checking
// they come out byte for byte: A's send nonces are then those of the
// vector.
func sessionAFromVector(t *testing.T, v *handshakeVector) *Session {
	t.Helper()
	idB, err := crypto.ParseIdentityPEM([]byte(v.BPrivateKeyPEM))
	if err != nil {
		t.Fatal(err)
	}
	res := &HandshakeResult{Role: RoleInitiator, SendSeq: v.SeqA, RecvSeq: v.SeqB, PeerKey: idB.Public(),
		Keys: sessionKeys{encAB: v.KeyAB, encBA: v.KeyBA, macAB: v.MacAB, macBA: v.MacBA}}
	copy(res.Transcript[:], v.TranscriptHashTH)
	now := time.Unix(0, v.TimeUnixNano)
	ra := &streamReader{seed: []byte(v.ARandomSeed)}
	ra.Read(make([]byte, aDrawsBeforeRecords)) // the handshake's draws
	sa, err := NewSession(res, SessionConfig{}, ra, now)
	if err != nil {
		t.Fatal(err)
	}
	th := sa.Transcript()
	for _, r := range []struct {
		name    string
		typ     byte
		payload []byte
		want    []byte
	}{
		{"confirm A", TypeConfirm, th[:], v.ConfirmA},
		{"chat A", TypeChat, AppendChat(nil, &Chat{ID: v.ChatAID, SentAt: v.TimeUnixNano, Text: v.ChatAText}), v.ChatA},
		{"goodbye A", TypeGoodbye, nil, v.GoodbyeA},
	} {
		got, _, err := sa.Seal(nil, r.typ, r.payload, now)
		if err != nil || !bytes.Equal(got, r.want) {
			t.Fatalf("%s resealed: %x, %v; want the vector's %x", r.name, got, err, r.want)
		}
	}
	return sa
}

func TestReflectVector(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(vectorDir, "handshake.json"))
	if err != nil {
		t.Fatal(err)
	}
	var hv handshakeVector
	if err := json.Unmarshal(raw, &hv); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(vectorDir, "reflect.json")
	if *updateVectors {
		rv := reflectVector{
			Comment:      "duet/2 reflection vector: record_chat_a of handshake.json sent back to A. A, having sealed record_confirm_a, record_chat_a and record_goodbye_a in its current send epoch, receives it at time_unix_nano: the nonce is one A issued and the record carries the GCM tag A sent with it (A keeps nonce and tag of each record it sent; it opens under A's own record key, opens_under), so A refuses it with reason, before the seq and key checks. All byte strings hex.",
			Handshake:    "handshake.json",
			RecordField:  "record_chat_a",
			Record:       hv.ChatA,
			Receiver:     "A",
			OpensUnder:   "record_keys_ab[1]",
			TimeUnixNano: hv.TimeUnixNano,
			Reason:       ReasonReflected,
		}
		b, _ := json.MarshalIndent(&rv, "", "  ")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err = os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rv reflectVector
	if err := json.Unmarshal(raw, &rv); err != nil {
		t.Fatal(err)
	}
	if rv.Handshake != "handshake.json" || rv.RecordField != "record_chat_a" || !bytes.Equal(rv.Record, hv.ChatA) ||
		rv.Receiver != "A" || rv.OpensUnder != "record_keys_ab[1]" || rv.TimeUnixNano != hv.TimeUnixNano {
		t.Fatalf("reflect.json does not describe handshake.json's record_chat_a sent back to A: %+v", rv)
	}
	// From the bytes alone: it opens under A's own record key for its seq,
	// not under the B-to-A chain's first key.
	var nonce [12]byte
	copy(nonce[:], rv.Record[14:26])
	for _, k := range []struct {
		name  string
		key   []byte
		opens bool
	}{{"record_keys_ab[1]", recordKeys(hv.KeyAB, 2)[1], true}, {"record_key_ba", recordKeys(hv.KeyBA, 1)[0], false}} {
		a, _ := crypto.NewAEAD(k.key)
		if _, err := a.Open(nil, &nonce, rv.Record[26:], rv.Record[:26]); (err == nil) != k.opens {
			t.Fatalf("record under %s: %v, want opens=%v", k.name, err, k.opens)
		}
	}
	// duet's record layer, in A's state, refuses it with the vector's reason
	// and changes nothing.
	sa := sessionAFromVector(t, &hv)
	before, sent := snapSession(sa), sa.SendSeq()
	_, err = sa.Open(nil, rv.Record, time.Unix(0, rv.TimeUnixNano))
	if !errors.Is(err, ErrRecordReflected) || Reason(err) != rv.Reason {
		t.Fatalf("A given its own CHAT record: %v (reason %q), want %q", err, Reason(err), rv.Reason)
	}
	if after := snapSession(sa); after != before || sa.SendSeq() != sent {
		t.Fatalf("state changed: %+v -> %+v", before, after)
	}
}
