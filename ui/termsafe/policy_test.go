package termsafe

import "testing"

// TestPolicies: the named policies differ only in what becomes of a tab
// and a line break; each escapes what Sanitize escapes.
func TestPolicies(t *testing.T) {
	in := "a\tb\nc\r\nd\re\x1b[31m\u202e\u009b"
	for _, c := range []struct {
		name string
		f    func(string) string
		want string
	}{
		{"Sanitize", Sanitize, `a` + "\t" + `b\nc\r\nd\re\x1b[31m\u202e\u009b`},
		{"Cell", Cell, `a b\nc\r\nd\re\x1b[31m\u202e\u009b`},
		{"Name", Name, `a b c d\re\x1b[31m\u202e\u009b`},
	} {
		if got := c.f(in); got != c.want {
			t.Errorf("%s(%q) = %q, want %q", c.name, in, got, c.want)
		}
	}
}
