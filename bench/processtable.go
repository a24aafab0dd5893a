package bench

// duet bench --processes's statistics and table: medians and spreads over
// the runs, ratios to raw computed run by run, and issue 9's targets with
// whether each is met.

import (
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// procUnit is how a row's values print.
type procUnit int

const (
	unitRate  procUnit = iota // msg/s
	unitDur                   // ns
	unitBytes                 // bytes
)

// procTarget is one of issue 9's targets for one column.
type procTarget struct {
	set    bool
	atMost bool    // ≤ limit (else ≥)
	limit  float64 // in the row's unit, or a ratio
	ratio  bool    // on the median ratio to raw (else on the median value)
}

func (t procTarget) met(v float64) bool {
	if math.IsNaN(v) {
		return false
	}
	if t.atMost {
		return v <= t.limit
	}
	return v >= t.limit
}

func (t procTarget) String(u procUnit) string {
	op := "≥"
	if t.atMost {
		op = "≤"
	}
	switch {
	case t.ratio:
		return fmt.Sprintf("%s%.1fx", op, t.limit)
	case u == unitDur:
		return op + strconv.FormatFloat(t.limit/float64(time.Millisecond), 'f', -1, 64) + " ms"
	case u == unitRate:
		return op + fmtRate(t.limit)
	}
	return op + fmtBytes(t.limit)
}

// procRow is one row of the table.
type procRow struct {
	label   string
	m       procMeasure
	unit    procUnit
	ratio   bool // show duet/raw (raw measures it too)
	targets [numKinds]procTarget
}

// procRows are the table's rows, with issue 9's targets.
var procRows = []procRow{
	{label: "throughput, 1 KiB messages", m: mRate1K, unit: unitRate, ratio: true, targets: [numKinds]procTarget{
		kindEphemeral: {set: true, limit: 1.0, ratio: true},
		kindDurable:   {set: true, limit: 0.5, ratio: true},
	}},
	{label: "throughput, 64 B messages", m: mRate64, unit: unitRate, ratio: true},
	// The latency targets are judged on --ephemeral: a durable message
	// waits for two fsynced commits in series (issue 8's guarantee), whose
	// time on this disk the next two rows measure.
	{label: "idle latency, median", m: mLatMedian, unit: unitDur, ratio: true, targets: [numKinds]procTarget{kindEphemeral: {set: true, atMost: true, limit: 4, ratio: true}}},
	{label: "idle latency, p99", m: mLatP99, unit: unitDur, ratio: true, targets: [numKinds]procTarget{kindEphemeral: {set: true, atMost: true, limit: float64(time.Millisecond)}}},
	{label: "disk floor, median", m: mFloorMedian, unit: unitDur},
	{label: "disk floor, p99", m: mFloorP99, unit: unitDur},
	// The target is for stored keys: --ephemeral makes an RSA key first.
	{label: "start to session", m: mStart, unit: unitDur, targets: [numKinds]procTarget{kindDurable: {set: true, atMost: true, limit: float64(30 * time.Millisecond)}}},
	{label: "restart (kill -9) to session", m: mRestart, unit: unitDur},
	{label: "peak RSS, larger process", m: mRSS, unit: unitBytes, ratio: true},
}

// median of the values that are not NaN (the mean of the middle two for
// an even count); NaN if there are none.
func median(xs []float64) float64 {
	v := finite(xs)
	if len(v) == 0 {
		return math.NaN()
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// spread is the smallest and largest value that is not NaN.
func spread(xs []float64) (lo, hi float64) {
	v := finite(xs)
	if len(v) == 0 {
		return math.NaN(), math.NaN()
	}
	return slices.Min(v), slices.Max(v)
}

func finite(xs []float64) []float64 {
	var v []float64
	for _, x := range xs {
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			v = append(v, x)
		}
	}
	return v
}

// column is one kind's values of measure m, by run.
func (r *ProcessResult) column(k procKind, m procMeasure) []float64 {
	out := make([]float64, len(r.Runs))
	for i, run := range r.Runs {
		out[i] = run[k][m]
	}
	return out
}

// ratios are kind k's values of m divided by raw's, run by run.
func (r *ProcessResult) ratios(k procKind, m procMeasure) []float64 {
	out := make([]float64, len(r.Runs))
	for i, run := range r.Runs {
		out[i] = run[k][m] / run[kindRaw][m]
	}
	return out
}

// cell formats one kind's values of a row: median [min-max].
func cell(xs []float64, u procUnit) string {
	med := median(xs)
	if math.IsNaN(med) {
		return "-"
	}
	lo, hi := spread(xs)
	if len(finite(xs)) == 1 {
		return fmtUnit(med, u)
	}
	switch u {
	case unitRate:
		return fmt.Sprintf("%s [%s-%s]", fmtRate(med), strings.TrimSuffix(fmtRate(lo), "/s"), strings.TrimSuffix(fmtRate(hi), "/s"))
	case unitDur:
		// One unit for the cell, the one its largest value needs.
		scale, unit, prec := durScale(hi)
		return fmt.Sprintf("%.*f %s [%.*f-%.*f]", prec, med/scale, unit, prec, lo/scale, prec, hi/scale)
	}
	return fmt.Sprintf("%.1f MiB [%.1f-%.1f]", med/(1<<20), lo/(1<<20), hi/(1<<20))
}

func durScale(ns float64) (scale float64, unit string, prec int) {
	switch {
	case ns < float64(time.Millisecond):
		return float64(time.Microsecond), "µs", 0
	case ns < float64(10*time.Millisecond):
		return float64(time.Millisecond), "ms", 2
	case ns < float64(100*time.Millisecond):
		return float64(time.Millisecond), "ms", 1
	case ns < float64(time.Second):
		return float64(time.Millisecond), "ms", 0
	}
	return float64(time.Second), "s", 2
}

func fmtUnit(v float64, u procUnit) string {
	switch u {
	case unitRate:
		return fmtRate(v)
	case unitDur:
		scale, unit, prec := durScale(v)
		return fmt.Sprintf("%.*f %s", prec, v/scale, unit)
	}
	return fmtBytes(v)
}

// fmtRate prints a rate in messages per second.
func fmtRate(v float64) string {
	switch {
	case math.IsNaN(v):
		return "-"
	case v >= 1e6:
		return fmt.Sprintf("%.2fM/s", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk/s", v/1e3)
	}
	return fmt.Sprintf("%.0f/s", v)
}

func fmtBytes(v float64) string { return fmt.Sprintf("%.1f MiB", v/(1<<20)) }

// ratioCell is a duet column's median ratio to raw and its target with ✓
// or ✗; met is nil without a target.
func (r *ProcessResult) ratioCell(row procRow, k procKind) (s string, met *bool) {
	ratio := math.NaN()
	var parts []string
	if row.ratio {
		ratio = median(r.ratios(k, row.m))
		if math.IsNaN(ratio) {
			parts = append(parts, "-")
		} else {
			parts = append(parts, fmt.Sprintf("%.2fx", ratio))
		}
	}
	if t := row.targets[k]; t.set {
		v := ratio
		if !t.ratio {
			v = median(r.column(k, row.m))
		}
		ok := t.met(v)
		mark := "✗"
		if ok {
			mark = "✓"
		}
		parts = append(parts, t.String(row.unit)+" "+mark)
		met = &ok
	}
	if len(parts) == 0 {
		return "-", nil
	}
	return strings.Join(parts, " "), met
}

func writeProcTable(w io.Writer, r *ProcessResult) {
	o := r.Opts
	runs := fmt.Sprintf("%d runs", len(r.Runs))
	if len(r.Runs) == 1 {
		runs = "1 run"
	}
	fmt.Fprintf(w, "duet bench --processes: what users get, two real processes on loopback for every measure\n")
	fmt.Fprintf(w, "%s · GOMAXPROCS %d · NumCPU %d · %s/%s\n", r.Date.UTC().Format("2006-01-02 15:04 MST"), r.GOMAXPROCS, r.NumCPU, runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(w, "%s, each of raw zmq4, duet --ephemeral and duet durable in turn on fresh processes; %d messages per throughput measure, %d latency samples\n", runs, o.Messages, o.Samples)
	fmt.Fprintf(w, "values: median [min-max] over the runs; x/raw: the ratio duet/raw computed per run, then the median of the runs' ratios; targets of issue 9 beside them: ✓ met, ✗ not met\n\n")
	const lw, vw, rw = 29, 22, 19
	fmt.Fprintf(w, "%-*s %-*s %-*s %-*s %-*s %s\n", lw, "measure", vw, kindNames[kindRaw], vw, kindNames[kindEphemeral], vw, kindNames[kindDurable], rw, "--ephemeral/raw", "durable/raw")
	fmt.Fprintf(w, "%s\n", strings.Repeat("-", lw+3*(vw+1)+2*(rw+1)))
	met, total := 0, 0
	for _, row := range procRows {
		fmt.Fprintf(w, "%-*s", lw, row.label)
		for k := kindRaw; k < numKinds; k++ {
			fmt.Fprintf(w, " %-*s", vw, cell(r.column(k, row.m), row.unit))
		}
		for _, k := range []procKind{kindEphemeral, kindDurable} {
			s, ok := r.ratioCell(row, k)
			if ok != nil {
				total++
				if *ok {
					met++
				}
			}
			if k == kindEphemeral {
				fmt.Fprintf(w, " %-*s", rw, s)
			} else {
				fmt.Fprintf(w, " %s\n", s)
			}
		}
	}
	fmt.Fprintf(w, "\ntargets met: %d of %d\n", met, total)
	fmt.Fprintf(w, "\nraw zmq4: duet bench-raw-peer, a stock zmq4 DEALER -> ROUTER between two processes, each line of the sender's stdin one message, each message one line of the receiver's stdout (flushed when no more are pending)\n")
	fmt.Fprintf(w, "duet: two `duet --headless --ping 1s` with their own config directories; durable keeps its database (bbolt, fsync: a message is committed before it is sent and before it is shown); --ephemeral keeps everything in memory\n")
	fmt.Fprintf(w, "throughput: N lines written to A's stdin as fast as possible, until B printed the N-th message (each counted exactly once); latency: one 48-byte line at a time after a random 1-10 ms gap, from writing it to A's stdin to reading its message from B's stdout\n")
	fmt.Fprintf(w, "start to session: from starting B (right after A) to both printing session established; restart: B killed (SIGKILL) and started again, to both printing established; peak RSS: VmHWM\n")
	fmt.Fprintf(w, "--ephemeral makes a fresh RSA-2048 key at every start (it takes no --identity), which its start to session includes (so the 30 ms target is for stored keys); its restart is not measured (-): the restarted peer's new key is refused by the other side as a changed key\n")
	fmt.Fprintf(w, "disk floor: what a durable message waits for on this disk, timed in one process right after each durable pair: the sender's commit of its outbox, then the receiver's commit of its showing mark (two bbolt transactions of two fdatasyncs each, %d pairs); durable latency cannot go below it\n", floorSamples)
	fmt.Fprintf(w, "the latency targets are judged on --ephemeral: durable delivery commits (fsyncs) a message before it is sent and before it is shown, so a power cut loses nothing (docs/DESIGN.md, \"Two real processes\"); its latency is the disk floor plus the wire\n")
	fmt.Fprintf(w, "total bench time %s\n", r.Wall.Round(time.Millisecond))
}
