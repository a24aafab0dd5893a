package termsafe

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// escapedClasses lists every code point class that must never reach an
// output raw, each with all its code points (or, for the large classes, the
// whole range).
func escapedClasses() map[string][]rune {
	span := func(lo, hi rune) []rune {
		var rs []rune
		for r := lo; r <= hi; r++ {
			rs = append(rs, r)
		}
		return rs
	}
	c0 := span(0x00, 0x1f)
	c0 = append(c0[:9], c0[10:]...) // tab is kept
	return map[string][]rune{
		"C0 controls (tab kept)":      c0,
		"DEL":                         {0x7f},
		"C1 controls (8-bit CSI ...)": span(0x80, 0x9f),
		"bidi controls":               append(append([]rune{0x061C, 0x200E, 0x200F}, span(0x202A, 0x202E)...), span(0x2066, 0x2069)...),
		"line/paragraph separators":   {0x2028, 0x2029},
		"invisible format characters": append(append(append([]rune{0x00AD, 0x180E, 0x200B, 0xFEFF}, span(0x2060, 0x2064)...), span(0x206A, 0x206F)...), span(0xFFF9, 0xFFFB)...),
		"other format characters":     {0x1D173, 0x1D17A, 0x13430, 0xE0001},
		"replacement character":       {0xFFFD},
		"joiners next to ASCII":       {0x200C, 0x200D}, // in "a<r>b"
		"tags outside a flag":         {0xE0020, 0xE0067, 0xE007F},
	}
}

// keptTexts must pass through Sanitize and EscapeJSON unchanged.
var keptTexts = map[string]string{
	"ASCII and tab":             "plain text\twith tab ~",
	"Latin, CJK, Cyrillic":      "émoji café 日本語 привет",
	"emoji ZWJ sequence":        "👩\u200d💻 👨\u200d👩\u200d👧\u200d👦 🏳\ufe0f\u200d🌈",
	"emoji with VS16 and tone":  "❤\ufe0f 👍🏽",
	"subdivision flag (tags)":   "🏴\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F",
	"Devanagari with ZWJ":       "क्\u200dष",
	"Persian with ZWNJ":         "می\u200cخواهم",
	"Arabic number sign":        "\u0600١٢٣",
	"combining marks":           "e\u0301 a\u0308",
	"non-breaking space (seen)": "a\u00a0b",
}

func TestSanitizeEscapesEveryClass(t *testing.T) {
	for class, rs := range escapedClasses() {
		for _, r := range rs {
			in := "a" + string(r) + "b"
			got := Sanitize(in)
			if strings.ContainsRune(got, r) {
				t.Errorf("%s: Sanitize(%q) = %q keeps U+%04X raw", class, in, got, r)
			}
			if !strings.HasPrefix(got, "a\\") || !strings.HasSuffix(got, "b") || !utf8.ValidString(got) {
				t.Errorf("%s: Sanitize(%q) = %q, want a, an escape, b", class, in, got)
			}
			for _, c := range got {
				if c != 'a' && c != 'b' && (c < 0x20 || c >= 0x7f) {
					t.Errorf("%s: Sanitize(%q) = %q has non-ASCII %U", class, in, got, c)
				}
			}
		}
	}
	for name, in := range keptTexts {
		if got := Sanitize(in); got != in {
			t.Errorf("%s: Sanitize(%q) = %q, want it unchanged", name, in, got)
		}
	}
	for in, want := range map[string]string{
		"\x1b[31mred":              `\x1b[31mred`,
		"\u009b31m":                `\u009b31m`,
		"\x7f":                     `\x7f`,
		"abc\u202eexe.txt":         `abc\u202eexe.txt`,
		"pay\u200dpal":             `pay\u200dpal`,
		"\u200d👩":                  `\u200d👩`,
		"👩\u200d":                  `👩\u200d`,
		"👩\u200d\u200d💻":           `👩\u200d\u200d💻`,
		"\u2028\u2029\u200b\ufeff": `\u2028\u2029\u200b\ufeff`,
		"bad \xc3":                 `bad \xc3`,
		"\U000E0067":               `\U000e0067`,
	} {
		if got := Sanitize(in); got != want {
			t.Errorf("Sanitize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEscapeJSONEveryClass(t *testing.T) {
	type msg struct {
		Text string `json:"text"`
	}
	encode := func(s string) []byte {
		b, err := json.Marshal(msg{s})
		if err != nil {
			t.Fatal(err)
		}
		return EscapeJSON(append(b, '\n'))
	}
	for class, rs := range escapedClasses() {
		for _, r := range rs {
			in := "a" + string(r) + "b"
			out := encode(in)
			for _, c := range string(out[:len(out)-1]) {
				if c < 0x20 || c >= 0x7f {
					t.Errorf("%s: %q in JSON is %q: raw %U", class, in, out, c)
				}
			}
			var m msg
			if err := json.Unmarshal(out, &m); err != nil {
				t.Fatalf("%s: %q: invalid JSON %q: %v", class, in, out, err)
			}
			if m.Text != in {
				t.Errorf("%s: %q round-trips as %q (JSON %q)", class, in, m.Text, out)
			}
		}
	}
	for name, in := range keptTexts {
		out := encode(in)
		var m msg
		if err := json.Unmarshal(out, &m); err != nil || m.Text != in {
			t.Errorf("%s: %q round-trips as %q, %v", name, in, m.Text, err)
		}
		if !strings.Contains(string(out), strings.ReplaceAll(in, "\t", `\t`)) {
			t.Errorf("%s: %q is escaped in JSON: %s", name, in, out)
		}
	}
	// Specific forms, and a surrogate pair above U+FFFF.
	for in, want := range map[string]string{
		"\x7f\u009b\u202e\u061c": `{"text":"\u007f\u009b\u202e\u061c"}` + "\n",
		"x\U000E0001":            `{"text":"x\udb40\udc01"}` + "\n",
		"<&>":                    `{"text":"\u003c\u0026\u003e"}` + "\n",
	} {
		if got := string(encode(in)); got != want {
			t.Errorf("EscapeJSON(%q) = %s, want %s", in, got, want)
		}
	}
	if out := EscapeJSON([]byte(`{"a":"plain"}` + "\n")); string(out) != `{"a":"plain"}`+"\n" {
		t.Errorf("clean JSON changed: %q", out)
	}
}

func BenchmarkSanitizeClean(b *testing.B) {
	s := strings.Repeat("hello, world 🙂 ", 64)
	for b.Loop() {
		Sanitize(s)
	}
}
