package store

// A structural check of a bbolt file before bbolt reads it. bbolt trusts
// its pages: it turns the offsets and lengths stored in them into slices
// with unsafe pointer arithmetic, so a damaged file can make it build a
// pointer to nowhere, and the garbage collector then stops the process
// ("found bad pointer in Go heap"), a crash no recover catches. checkBolt
// reads the same structures with bounds checks (no unsafe): the meta pages
// and their checksums, the freelist, and every branch and leaf page
// reachable from the root, with every element's key and value inside its
// page, every page id below the high-water mark and referenced once, and
// inline bucket pages inside their values. It reads page headers and
// element tables, not the values themselves (those are authenticated when
// opened), so it costs a few small reads per page.
//
// The layout is bbolt v1's on-disk format (go.etcd.io/bbolt
// internal/common, native little-endian on the platforms duet runs on).

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"strings"
)

const (
	boltMagic          = 0xED0CDAED
	boltVersion        = 2
	boltPageHeader     = 16 // id u64, flags u16, count u16, overflow u32
	boltElementSize    = 16 // branch: pos, ksize u32, pgid u64; leaf: flags, pos, ksize, vsize u32
	boltMetaSize       = 64 // magic, version, pageSize, flags u32; root u64, seq u64; freelist, pgid, txid, checksum u64
	boltBranchPage     = 0x01
	boltLeafPage       = 0x02
	boltFreelistPage   = 0x10
	boltBucketLeafFlag = 0x01
	boltNoFreelist     = ^uint64(0)
	boltMaxDepth       = 64
)

var le = binary.LittleEndian

// boltMeta is the part of a meta page the check uses.
type boltMeta struct {
	pageSize       uint64
	root, freelist uint64
	hwm, txid      uint64
}

// boltCheck is what checkBolt found besides damage.
type boltCheck struct {
	// fellBack: one meta page fails its checks and it may have been the
	// newer one, so bbolt opens the previous commit (txid) and the last
	// commit may be lost. bbolt does this silently (it is how it survives
	// a torn meta write); duet says so.
	fellBack bool
	txid     uint64 // the transaction bbolt opens
}

// checkBolt checks the bbolt file r of size bytes. Every error wraps
// ErrCorrupt. An empty file is damage too: Open creates a database
// under another name and links it into place whole (createDBFile), so an
// empty file at the path is not a creation cut short but a truncation.
func checkBolt(r io.ReaderAt, size int64) (boltCheck, error) {
	if size == 0 {
		return boltCheck{}, fmt.Errorf("%w: the file is empty (0 bytes): whatever it held (history, undelivered messages) is gone", ErrCorrupt)
	}
	m, fellBack, err := boltPickMeta(r)
	if err != nil {
		return boltCheck{}, err
	}
	if int64(m.hwm) > size/int64(m.pageSize) {
		return boltCheck{}, fmt.Errorf("%w: file is %d bytes, its pages need %d: truncated", ErrCorrupt, size, m.hwm*m.pageSize)
	}
	c := &boltChecker{r: r, m: m, seen: map[uint64]bool{0: true, 1: true}}
	if m.freelist != boltNoFreelist {
		if err := c.freelist(m.freelist); err != nil {
			return boltCheck{}, err
		}
	}
	return boltCheck{fellBack: fellBack, txid: m.txid}, c.page(m.root, 0)
}

// boltPickMeta reads both meta pages and returns the valid one with the
// higher transaction id, as bbolt does. fellBack is set when the other
// page fails its checks and does not read as the older one: bbolt writes
// transaction t's meta to page t%2, so after commit T the other page holds
// T-1; a damaged page whose txid field still reads T-1 was the older page
// (nothing is lost, and the next commit rewrites it), anything else may
// have been commit T+1.
func boltPickMeta(r io.ReaderAt) (m boltMeta, fellBack bool, err error) {
	m0, err0 := boltReadMeta(r, 0)
	if err0 == nil {
		m1, err1 := boltReadMeta(r, int64(m0.pageSize))
		switch {
		case err1 != nil || m1.pageSize != m0.pageSize:
			return m0, !boltOlderMeta(r, int64(m0.pageSize), m0.txid), nil
		case m1.txid > m0.txid:
			return m1, false, nil
		}
		return m0, false, nil
	}
	// Page 0 is damaged: its page size is unknown, so look for page 1 at
	// each page size bbolt uses.
	for _, off := range []uint64{4096, 8192, 16384, 32768, 65536} {
		m1, err := boltReadMeta(r, int64(off))
		if err != nil || m1.pageSize != off {
			continue
		}
		return m1, !boltOlderMeta(r, 0, m1.txid), nil
	}
	return boltMeta{}, false, fmt.Errorf("%w: no valid meta page", ErrCorrupt)
}

// boltOlderMeta reports whether the (damaged) meta page at off was the
// older one, the transaction before txid: its checksum matches with the
// txid field set to txid-1 (only the txid field is damaged), or else its
// txid field still reads txid-1 and it does not check out as txid+1
// (the damage is elsewhere). A page that checks out as txid+1, or whose
// damage leaves it unknown, may have been the newer one.
func boltOlderMeta(r io.ReaderAt, off int64, txid uint64) bool {
	if txid == 0 {
		return false
	}
	var b [boltPageHeader + boltMetaSize]byte
	if _, err := r.ReadAt(b[:], off); err != nil {
		return false
	}
	meta := b[boltPageHeader:]
	checksAs := func(t uint64) bool {
		m := bytes.Clone(meta[:56])
		le.PutUint64(m[48:], t)
		h := fnv.New64a()
		h.Write(m)
		return h.Sum64() == le.Uint64(meta[56:])
	}
	switch {
	case checksAs(txid - 1):
		return true
	case checksAs(txid + 1):
		return false
	}
	return le.Uint64(meta[48:]) == txid-1
}

func boltReadMeta(r io.ReaderAt, off int64) (boltMeta, error) {
	var b [boltPageHeader + boltMetaSize]byte
	if _, err := r.ReadAt(b[:], off); err != nil {
		return boltMeta{}, fmt.Errorf("%w: meta page: %v", ErrCorrupt, err)
	}
	meta := b[boltPageHeader:]
	h := fnv.New64a()
	h.Write(meta[:56])
	if le.Uint32(meta) != boltMagic || le.Uint32(meta[4:]) != boltVersion || le.Uint64(meta[56:]) != h.Sum64() {
		return boltMeta{}, fmt.Errorf("%w: meta page at %d fails its checks", ErrCorrupt, off)
	}
	m := boltMeta{
		pageSize: uint64(le.Uint32(meta[8:])),
		root:     le.Uint64(meta[16:]),
		freelist: le.Uint64(meta[32:]),
		hwm:      le.Uint64(meta[40:]),
		txid:     le.Uint64(meta[48:]),
	}
	if m.pageSize < 1024 || m.pageSize > 1<<20 || m.pageSize&(m.pageSize-1) != 0 {
		return boltMeta{}, fmt.Errorf("%w: page size %d", ErrCorrupt, m.pageSize)
	}
	if m.hwm < 4 || m.root < 2 || m.root >= m.hwm || (m.freelist != boltNoFreelist && (m.freelist < 2 || m.freelist >= m.hwm)) {
		return boltMeta{}, fmt.Errorf("%w: meta page at %d points outside the file", ErrCorrupt, off)
	}
	return m, nil
}

type boltChecker struct {
	r    io.ReaderAt
	m    boltMeta
	seen map[uint64]bool
}

// header reads page id's header and checks its id and extent.
func (c *boltChecker) header(id uint64) (flags uint16, count uint16, span uint64, err error) {
	if id < 2 || id >= c.m.hwm || c.seen[id] {
		return 0, 0, 0, fmt.Errorf("%w: page %d referenced twice or outside the file", ErrCorrupt, id)
	}
	c.seen[id] = true
	var h [boltPageHeader]byte
	if _, err := c.r.ReadAt(h[:], int64(id*c.m.pageSize)); err != nil {
		return 0, 0, 0, fmt.Errorf("%w: page %d: %v", ErrCorrupt, id, err)
	}
	overflow := uint64(le.Uint32(h[12:]))
	if le.Uint64(h[:]) != id || id+overflow >= c.m.hwm {
		return 0, 0, 0, fmt.Errorf("%w: page %d has a wrong id or extent", ErrCorrupt, id)
	}
	for o := uint64(1); o <= overflow; o++ {
		c.seen[id+o] = true
	}
	return le.Uint16(h[8:]), le.Uint16(h[10:]), (overflow + 1) * c.m.pageSize, nil
}

func (c *boltChecker) freelist(id uint64) error {
	flags, count, span, err := c.header(id)
	if err != nil {
		return err
	}
	if flags != boltFreelistPage {
		return fmt.Errorf("%w: freelist page %d has flags %#x", ErrCorrupt, id, flags)
	}
	base, n := int64(id*c.m.pageSize)+boltPageHeader, uint64(count)
	if count == 0xFFFF {
		var b [8]byte
		if _, err := c.r.ReadAt(b[:], base); err != nil {
			return fmt.Errorf("%w: freelist: %v", ErrCorrupt, err)
		}
		n, base = le.Uint64(b[:]), base+8
	}
	if n > (span-boltPageHeader)/8 {
		return fmt.Errorf("%w: freelist of %d ids in %d bytes", ErrCorrupt, n, span)
	}
	ids := make([]byte, 8*n)
	if _, err := c.r.ReadAt(ids, base); err != nil {
		return fmt.Errorf("%w: freelist: %v", ErrCorrupt, err)
	}
	for i := uint64(0); i < n; i++ {
		if p := le.Uint64(ids[8*i:]); p < 2 || p >= c.m.hwm {
			return fmt.Errorf("%w: freelist holds page %d", ErrCorrupt, p)
		}
	}
	return nil
}

// page checks the branch or leaf page id and what it references.
func (c *boltChecker) page(id uint64, depth int) error {
	if depth > boltMaxDepth {
		return fmt.Errorf("%w: tree deeper than %d", ErrCorrupt, boltMaxDepth)
	}
	flags, count, span, err := c.header(id)
	if err != nil {
		return err
	}
	if flags != boltBranchPage && flags != boltLeafPage {
		return fmt.Errorf("%w: page %d has flags %#x", ErrCorrupt, id, flags)
	}
	table := boltPageHeader + uint64(count)*boltElementSize
	if table > span {
		return fmt.Errorf("%w: page %d: %d elements do not fit", ErrCorrupt, id, count)
	}
	elems := make([]byte, table-boltPageHeader)
	base := int64(id * c.m.pageSize)
	if _, err := c.r.ReadAt(elems, base+boltPageHeader); err != nil {
		return fmt.Errorf("%w: page %d: %v", ErrCorrupt, id, err)
	}
	read := func(off, n uint64) ([]byte, error) {
		b := make([]byte, n)
		_, err := c.r.ReadAt(b, base+int64(off))
		return b, err
	}
	return c.elements(id, flags, elems, span, read, depth)
}

// elements checks a page's element table: each key (and value) lies
// inside the page's span; a child page or bucket is checked in turn. read
// reads n bytes at offset off of the page; id 0 is an inline page.
func (c *boltChecker) elements(id uint64, flags uint16, elems []byte, span uint64, read func(off, n uint64) ([]byte, error), depth int) error {
	for i := uint64(0); i < uint64(len(elems))/boltElementSize; i++ {
		e := elems[i*boltElementSize:]
		at := boltPageHeader + i*boltElementSize // the element's offset in the page
		if flags == boltBranchPage {
			pos, ksize, child := uint64(le.Uint32(e)), uint64(le.Uint32(e[4:])), le.Uint64(e[8:])
			if at+pos+ksize > span {
				return fmt.Errorf("%w: page %d: key %d outside the page", ErrCorrupt, id, i)
			}
			if err := c.page(child, depth+1); err != nil {
				return err
			}
			continue
		}
		eflags, pos, ksize, vsize := le.Uint32(e), uint64(le.Uint32(e[4:])), uint64(le.Uint32(e[8:])), uint64(le.Uint32(e[12:]))
		if at+pos+ksize+vsize > span {
			return fmt.Errorf("%w: page %d: element %d outside the page", ErrCorrupt, id, i)
		}
		if eflags&boltBucketLeafFlag == 0 {
			continue
		}
		if id == 0 {
			// bbolt never nests a bucket in an inline bucket; following
			// one could recurse through the same bytes without end.
			return fmt.Errorf("%w: a bucket inside an inline bucket", ErrCorrupt)
		}
		if vsize < 16 {
			return fmt.Errorf("%w: page %d: bucket value of %d bytes", ErrCorrupt, id, vsize)
		}
		v, err := read(at+pos+ksize, vsize)
		if err != nil {
			return fmt.Errorf("%w: page %d: %v", ErrCorrupt, id, err)
		}
		if root := le.Uint64(v); root != 0 {
			if err := c.page(root, depth+1); err != nil {
				return err
			}
			continue
		}
		if err := c.inline(v[16:], depth+1); err != nil {
			return fmt.Errorf("%w: page %d: its inline bucket: %s", ErrCorrupt, id, strings.TrimPrefix(err.Error(), ErrCorrupt.Error()+": "))
		}
	}
	return nil
}

// inline checks an inline bucket's page, stored in its value p.
func (c *boltChecker) inline(p []byte, depth int) error {
	if uint64(len(p)) < boltPageHeader {
		return fmt.Errorf("%w: inline page of %d bytes", ErrCorrupt, len(p))
	}
	flags, count := le.Uint16(p[8:]), uint64(le.Uint16(p[10:]))
	if flags != boltLeafPage {
		return fmt.Errorf("%w: inline page has flags %#x", ErrCorrupt, flags)
	}
	span := uint64(len(p))
	if boltPageHeader+count*boltElementSize > span {
		return fmt.Errorf("%w: inline page: %d elements do not fit", ErrCorrupt, count)
	}
	read := func(off, n uint64) ([]byte, error) {
		if off+n > span {
			return nil, io.ErrUnexpectedEOF
		}
		return p[off : off+n], nil
	}
	return c.elements(0, flags, p[boltPageHeader:boltPageHeader+count*boltElementSize], span, read, depth)
}
