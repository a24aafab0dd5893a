package main

// The layout holds after us: these tests read the source tree (go/parser,
// no build) and fail when a package imports what docs/DESIGN.md's package
// graph forbids, when a library leaves the one package that may use it, or
// when the two central types or any function outgrow their rooms. They are
// the graph of docs/DESIGN.md in code: change both together.

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const module = "duet"

// allowedImports lists, for every package of the module, the packages of
// the module it may import (non-test files). A package missing from this
// table fails the test: a new package states its place in the graph here.
var allowedImports = map[string][]string{
	"duet":                {"*"}, // main wires everything
	"duet/internal/fsafe": {},
	"duet/config":         {"duet/internal/fsafe"},
	"duet/crypto":         {"duet/internal/fsafe"},
	"duet/net":            {},
	"duet/protocol":       {"duet/crypto", "duet/protocol/keys", "duet/protocol/internal/tap"},
	"duet/protocol/keys":  {},
	"duet/protocol/store": {"duet/protocol", "duet/crypto", "duet/internal/fsafe"},
	"duet/protocol/mitm":  {"duet/protocol", "duet/crypto", "duet/protocol/keys", "duet/protocol/internal/tap"},
	// tap: the demo's malware (/attack steal): a node's send chain, to mitm only.
	"duet/protocol/internal/tap":       {"duet/protocol/keys"},
	"duet/protocol/internal/prototest": {"duet/protocol", "duet/crypto"},
	"duet/bench":                       {"duet/net", "duet/protocol", "duet/protocol/store", "duet/crypto"},
	"duet/ui/termsafe":                 {},
	"duet/ui/style":                    {},
	"duet/ui/words":                    {"duet/protocol", "duet/protocol/mitm", "duet/crypto", "duet/ui/termsafe"},
	"duet/ui/chat":                     {"duet/protocol", "duet/crypto", "duet/ui/style", "duet/ui/termsafe", "duet/ui/words"},
	"duet/ui/panel":                    {"duet/protocol", "duet/crypto", "duet/ui/style", "duet/ui/termsafe", "duet/ui/words"},
	"duet/ui":                          {"duet/protocol", "duet/protocol/mitm", "duet/crypto", "duet/ui/chat", "duet/ui/termsafe", "duet/ui/words"},
	"duet/ui/screen":                   {"duet/protocol", "duet/crypto", "duet/ui", "duet/ui/chat", "duet/ui/panel", "duet/ui/style", "duet/ui/termsafe", "duet/ui/words"},
	"duet/ui/demo":                     {"duet/protocol", "duet/protocol/mitm", "duet/crypto", "duet/ui/screen", "duet/ui/words"},
}

// onlyIn names outside libraries (and standard packages) that exactly one
// set of packages may import, with the reason.
var onlyIn = []struct {
	imp, why string
	pkgs     []string
}{
	{"go.etcd.io/bbolt", "all state on disk besides the keys goes through the store", []string{"duet/protocol/store"}},
	{"github.com/go-zeromq/zmq4", "the transport is the one ZeroMQ user; the bench measures raw zmq4 beside it", []string{"duet/net", "duet/bench"}},
	{"github.com/BurntSushi/toml", "the config file is read and written in one place", []string{"duet/config"}},
	{"os/exec", "only the process benchmark and the screen's editor launcher (ui/screen/editor.go, held by a test there) start processes", []string{"duet/bench", "duet/ui/screen"}},
}

// Size limits: the central types hold named parts, not loose state, and no
// function is too long to read as a list of steps.
var (
	maxFields = map[string]int{"duet/protocol.Node": 30, "duet/ui/screen.Screen": 30}
	maxFunc   = 100 // lines, from func to the closing brace, non-test code
)

type pkgInfo struct {
	imports map[string]bool // non-test imports
	files   map[string]*ast.File
}

// parseTree parses every non-test Go file of the module, keyed by import path.
func parseTree(t *testing.T) (map[string]*pkgInfo, *token.FileSet) {
	t.Helper()
	fset := token.NewFileSet()
	pkgs := map[string]*pkgInfo{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != "." && (name == "testdata" || strings.HasPrefix(name, ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		ip := module
		if dir := filepath.ToSlash(filepath.Dir(path)); dir != "." {
			ip += "/" + dir
		}
		p := pkgs[ip]
		if p == nil {
			p = &pkgInfo{imports: map[string]bool{}, files: map[string]*ast.File{}}
			pkgs[ip] = p
		}
		p.files[path] = f
		for _, s := range f.Imports {
			v, _ := strconv.Unquote(s.Path.Value)
			p.imports[v] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pkgs, fset
}

func TestLayoutImportsFollowTheGraph(t *testing.T) {
	pkgs, _ := parseTree(t)
	for _, ip := range sortedKeys(pkgs) {
		allowed, ok := allowedImports[ip]
		if !ok {
			t.Errorf("package %s has no place in the graph: add it to allowedImports and to docs/DESIGN.md", ip)
			continue
		}
		for imp := range pkgs[ip].imports {
			if imp != module && !strings.HasPrefix(imp, module+"/") {
				continue
			}
			if !slices.Contains(allowed, "*") && !slices.Contains(allowed, imp) {
				t.Errorf("%s imports %s, which the package graph forbids", ip, imp)
			}
		}
	}
}

func TestLayoutLibrariesStayInTheirPackage(t *testing.T) {
	pkgs, _ := parseTree(t)
	for _, o := range onlyIn {
		for _, ip := range sortedKeys(pkgs) {
			if pkgs[ip].imports[o.imp] && !slices.Contains(o.pkgs, ip) {
				t.Errorf("%s imports %s; only %v may (%s)", ip, o.imp, o.pkgs, o.why)
			}
		}
	}
}

func TestLayoutSizes(t *testing.T) {
	pkgs, fset := parseTree(t)
	seen := map[string]bool{}
	for _, ip := range sortedKeys(pkgs) {
		for _, path := range sortedKeys(pkgs[ip].files) {
			for _, d := range pkgs[ip].files[path].Decls {
				switch d := d.(type) {
				case *ast.FuncDecl:
					if d.Body == nil {
						continue
					}
					n := fset.Position(d.End()).Line - fset.Position(d.Pos()).Line + 1
					if n > maxFunc {
						t.Errorf("%s: %s is %d lines (at most %d): split it into named steps", path, d.Name.Name, n, maxFunc)
					}
				case *ast.GenDecl:
					for _, s := range d.Specs {
						ts, ok := s.(*ast.TypeSpec)
						if !ok {
							continue
						}
						limit, ok := maxFields[ip+"."+ts.Name.Name]
						if !ok {
							continue
						}
						seen[ip+"."+ts.Name.Name] = true
						st, ok := ts.Type.(*ast.StructType)
						if !ok {
							continue
						}
						fields := 0
						for _, f := range st.Fields.List {
							fields += max(1, len(f.Names))
						}
						if fields > limit {
							t.Errorf("%s has %d fields (at most %d): put new state into a named part", ip+"."+ts.Name.Name, fields, limit)
						}
					}
				}
			}
		}
	}
	for name := range maxFields {
		if !seen[name] {
			t.Errorf("type %s not found: update maxFields with its new name", name)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
