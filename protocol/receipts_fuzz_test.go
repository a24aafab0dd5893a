package protocol

import (
	"bytes"
	"testing"
)

// FuzzParseRead: a READ payload decodes to 1..MaxReadIDs non-zero ids that
// re-encode to the input, or is refused with a sentinel; never a panic or
// an allocation beyond the input.
func FuzzParseRead(f *testing.F) {
	f.Add([]byte{})
	f.Add(make([]byte, 8))
	f.Add(AppendRead(nil, []uint64{1, 2, 3}))
	f.Add(make([]byte, 8*(MaxReadIDs+1)))
	f.Fuzz(func(t *testing.T, p []byte) {
		ids, err := ParseRead(nil, p)
		if err != nil {
			if !isRejection(err) || checkRecordPayload(TypeRead, p) == nil {
				t.Fatalf("refusal %v (payload check disagrees or not a sentinel)", err)
			}
			return
		}
		if len(ids) == 0 || len(ids) > MaxReadIDs || !bytes.Equal(AppendRead(nil, ids), p) {
			t.Fatalf("accepted %d ids from %d bytes", len(ids), len(p))
		}
		for _, id := range ids {
			if id == 0 {
				t.Fatal("id 0 accepted")
			}
		}
		if checkRecordPayload(TypeRead, p) != nil {
			t.Fatal("ParseRead accepts what the record check refuses")
		}
	})
}

// FuzzCourtesyPayload: checkRecordPayload on TYPING accepts exactly the
// empty payload; on a type no one knows, anything.
func FuzzCourtesyPayload(f *testing.F) {
	f.Add(byte(TypeTyping), []byte{})
	f.Add(byte(TypeTyping), []byte{0})
	f.Add(byte(0x42), []byte("later"))
	f.Fuzz(func(t *testing.T, typ byte, p []byte) {
		err := checkRecordPayload(typ, p)
		switch {
		case typ == TypeTyping:
			if (err == nil) != (len(p) == 0) {
				t.Fatalf("TYPING of %d bytes: %v", len(p), err)
			}
		case IsRecordType(typ) && !IsKnownRecordType(typ):
			if err != nil {
				t.Fatalf("unknown type 0x%02x refused: %v", typ, err)
			}
		}
		if err != nil && !isRejection(err) {
			t.Fatalf("non-sentinel error %v", err)
		}
	})
}
