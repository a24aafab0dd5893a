package bench

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"
)

var nan = math.NaN()

func TestMedianAndSpread(t *testing.T) {
	for _, c := range []struct {
		xs       []float64
		med      float64
		lo, hi   float64
		wantNaNs bool
	}{
		{xs: []float64{3, 1, 2}, med: 2, lo: 1, hi: 3},
		{xs: []float64{4, 1, 3, 2}, med: 2.5, lo: 1, hi: 4},
		{xs: []float64{7}, med: 7, lo: 7, hi: 7},
		{xs: []float64{5, nan, 1, math.Inf(1)}, med: 3, lo: 1, hi: 5}, // not measured: left out
		{xs: []float64{nan, nan}, wantNaNs: true},
		{xs: nil, wantNaNs: true},
	} {
		med := median(c.xs)
		lo, hi := spread(c.xs)
		if c.wantNaNs {
			if !math.IsNaN(med) || !math.IsNaN(lo) || !math.IsNaN(hi) {
				t.Errorf("%v: got %v [%v-%v], want NaN", c.xs, med, lo, hi)
			}
			continue
		}
		if med != c.med || lo != c.lo || hi != c.hi {
			t.Errorf("%v: got %v [%v-%v], want %v [%v-%v]", c.xs, med, lo, hi, c.med, c.lo, c.hi)
		}
	}
	// median leaves its input alone.
	xs := []float64{3, 1, 2}
	median(xs)
	if xs[0] != 3 || xs[1] != 1 || xs[2] != 2 {
		t.Errorf("median sorted its input: %v", xs)
	}
}

// fixedResult is three runs whose ratio medians differ from the ratio of
// the medians, so that a table computing the latter is caught.
func fixedResult() *ProcessResult {
	run := func(raw, eph, dur procFigures) [numKinds]procFigures {
		return [numKinds]procFigures{kindRaw: raw, kindEphemeral: eph, kindDurable: dur}
	}
	ms := float64(time.Millisecond)
	us := float64(time.Microsecond)
	//                 1 KiB   64 B    lat med    lat p99    floor med  floor p99  start    restart  RSS
	return &ProcessResult{
		Opts:       ProcessOptions{Runs: 3, Messages: 20000, Samples: 300},
		Date:       time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC),
		GOMAXPROCS: 2, NumCPU: 2,
		Wall: 42 * time.Second,
		Runs: [][numKinds]procFigures{
			run(procFigures{100e3, 50e3, 100 * us, 200 * us, nan, nan, nan, nan, 10 << 20},
				procFigures{100e3, 60e3, 200 * us, 900 * us, nan, nan, 20 * ms, nan, 20 << 20},
				procFigures{40e3, 20e3, 1 * ms, 3 * ms, 700 * us, 1500 * us, 40 * ms, 30 * ms, 30 << 20}),
			run(procFigures{200e3, 50e3, 100 * us, 200 * us, nan, nan, nan, nan, 10 << 20},
				procFigures{100e3, 60e3, 500 * us, 800 * us, nan, nan, 25 * ms, nan, 20 << 20},
				procFigures{120e3, 20e3, 1 * ms, 3 * ms, 800 * us, 1600 * us, 45 * ms, 35 * ms, 30 << 20}),
			run(procFigures{300e3, 50e3, 100 * us, 200 * us, nan, nan, nan, nan, 10 << 20},
				procFigures{600e3, 60e3, 300 * us, 1100 * us, nan, nan, 35 * ms, nan, 20 << 20},
				procFigures{90e3, 20e3, 1 * ms, 3 * ms, 900 * us, 1700 * us, 50 * ms, 40 * ms, 30 << 20}),
		},
	}
}

func TestRatiosPerRun(t *testing.T) {
	r := fixedResult()
	// 1 KiB --ephemeral: ratios 1.0, 0.5, 2.0 -> median 1.0, whereas the
	// ratio of the medians would be 100k/200k = 0.5.
	got := r.ratios(kindEphemeral, mRate1K)
	want := []float64{1, 0.5, 2}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("ratios %v, want %v", got, want)
		}
	}
	if m := median(got); m != 1 {
		t.Errorf("median ratio %v, want 1", m)
	}
	// durable 1 KiB: 0.4, 0.6, 0.3 -> 0.4.
	if m := median(r.ratios(kindDurable, mRate1K)); math.Abs(m-0.4) > 1e-12 {
		t.Errorf("durable median ratio %v, want 0.4", m)
	}
	// Raw measures no session: the ratio is NaN and prints as "-".
	if m := median(r.ratios(kindDurable, mStart)); !math.IsNaN(m) {
		t.Errorf("start ratio %v, want NaN", m)
	}
}

func TestTargets(t *testing.T) {
	r := fixedResult()
	row := func(m procMeasure) procRow {
		for _, row := range procRows {
			if row.m == m {
				return row
			}
		}
		t.Fatalf("no row for measure %d", m)
		return procRow{}
	}
	for _, c := range []struct {
		m    procMeasure
		k    procKind
		want string
		met  int // 1 met, 0 not met, -1 no target
	}{
		{mRate1K, kindEphemeral, "1.00x ≥1.0x ✓", 1}, // exactly at the target
		{mRate1K, kindDurable, "0.40x ≥0.5x ✗", 0},
		{mRate64, kindEphemeral, "1.20x", -1},
		{mLatMedian, kindEphemeral, "3.00x ≤4.0x ✓", 1}, // ratios 2, 5, 3
		{mLatMedian, kindDurable, "10.00x", -1},         // judged on --ephemeral: durable is disk-bound

		{mLatP99, kindEphemeral, "4.50x ≤1 ms ✓", 1}, // absolute: median 900 µs
		{mLatP99, kindDurable, "15.00x", -1},
		{mFloorMedian, kindDurable, "-", -1}, // raw has none: no ratio
		{mFloorMedian, kindEphemeral, "-", -1},
		{mStart, kindEphemeral, "-", -1},     // the target is for stored keys
		{mStart, kindDurable, "≤30 ms ✗", 0}, // median 45 ms
		{mRestart, kindDurable, "-", -1},
		{mRSS, kindDurable, "3.00x", -1},
	} {
		s, met := r.ratioCell(row(c.m), c.k)
		if s != c.want {
			t.Errorf("measure %d, %s: %q, want %q", c.m, kindNames[c.k], s, c.want)
		}
		switch {
		case c.met < 0 && met != nil:
			t.Errorf("measure %d, %s: a target where none is set", c.m, kindNames[c.k])
		case c.met >= 0 && (met == nil || *met != (c.met == 1)):
			t.Errorf("measure %d, %s: met %v, want %v", c.m, kindNames[c.k], met, c.met == 1)
		}
	}
	// No value (a column never measured) never meets a target.
	if (procTarget{set: true, atMost: true, limit: 1}).met(nan) {
		t.Error("NaN met a target")
	}
}

func TestCells(t *testing.T) {
	ms, us := float64(time.Millisecond), float64(time.Microsecond)
	for _, c := range []struct {
		xs   []float64
		u    procUnit
		want string
	}{
		{[]float64{100e3, 200e3, 300e3}, unitRate, "200.0k/s [100.0k-300.0k]"},
		{[]float64{1.5e6}, unitRate, "1.50M/s"},
		{[]float64{85 * us, 80 * us, 95 * us}, unitDur, "85 µs [80-95]"},
		{[]float64{900 * us, 2.5 * ms, 1.2 * ms}, unitDur, "1.20 ms [0.90-2.50]"}, // one unit per cell
		{[]float64{25 * ms, 20 * ms, 35 * ms}, unitDur, "25.0 ms [20.0-35.0]"},
		{[]float64{250 * ms}, unitDur, "250 ms"},
		{[]float64{nan, nan}, unitDur, "-"},
		{[]float64{10 << 20, 12 << 20, 11 << 20}, unitBytes, "11.0 MiB [10.0-12.0]"},
	} {
		if got := cell(c.xs, c.u); got != c.want {
			t.Errorf("cell(%v): %q, want %q", c.xs, got, c.want)
		}
	}
}

func TestProcTable(t *testing.T) {
	var b bytes.Buffer
	writeProcTable(&b, fixedResult())
	out := b.String()
	for _, want := range []string{
		"two real processes on loopback",
		"2026-11-26 06:00 UTC · GOMAXPROCS 2 · NumCPU 2",
		"3 runs",
		"ratio duet/raw computed per run, then the median of the runs' ratios",
		"targets met: 3 of 5",
		"the latency targets are judged on --ephemeral",
		"total bench time 42s",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	rows := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		for _, row := range procRows {
			if strings.HasPrefix(l, row.label) {
				rows[row.label] = l
			}
		}
	}
	for _, row := range procRows {
		if rows[row.label] == "" {
			t.Errorf("no row %q:\n%s", row.label, out)
		}
	}
	if l := rows["throughput, 1 KiB messages"]; !strings.Contains(l, "200.0k/s [100.0k-300.0k]") || !strings.Contains(l, "1.00x ≥1.0x ✓") || !strings.Contains(l, "0.40x ≥0.5x ✗") {
		t.Errorf("1 KiB row: %q", l)
	}
	if l := rows["restart (kill -9) to session"]; !strings.Contains(l, "35.0 ms [30.0-40.0]") {
		t.Errorf("restart row: %q", l)
	}
	// The floor is measured beside durable only: "-" for raw and --ephemeral.
	if l := rows["disk floor, median"]; !strings.Contains(l, "-                      -                      800 µs [700-900]") {
		t.Errorf("disk floor row: %q", l)
	}
}
