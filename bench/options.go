package bench

import (
	"io"
	"time"
)

// Options sizes an in-process run (Run); a field not above zero takes its
// default.
type Options struct {
	Messages       int // per throughput run (default 50,000)
	LatencySamples int // idle one-way latency samples (default 300)
	Handshakes     int // handshakes timed (default 10)
}

// ProcessOptions sizes `duet bench --processes` (RunProcesses); a size not
// above zero takes its default.
type ProcessOptions struct {
	Exe      string        // the duet binary started for every process (os.Executable())
	Runs     int           // runs, each measuring raw, --ephemeral and durable (default 5)
	Messages int           // messages per throughput measure (default 20,000)
	Samples  int           // idle latency samples (default 300)
	Timeout  time.Duration // a measure without progress for this long fails (default 60 s)
	Progress io.Writer     // one line per measured pair; nil: none
}

// defaultSamples is both runs' latency samples: one --samples flag feeds
// either.
const defaultSamples = 300

func (o Options) withDefaults() Options {
	o.Messages = orDefault(o.Messages, 50_000)
	o.LatencySamples = orDefault(o.LatencySamples, defaultSamples)
	o.Handshakes = orDefault(o.Handshakes, 10)
	return o
}

func (o ProcessOptions) withDefaults() ProcessOptions {
	o.Runs = orDefault(o.Runs, 5)
	o.Messages = orDefault(o.Messages, 20_000)
	o.Samples = orDefault(o.Samples, defaultSamples)
	o.Timeout = orDefault(o.Timeout, 60*time.Second)
	return o
}

// orDefault is v, or d if v is not above zero.
func orDefault[T int | time.Duration](v, d T) T {
	if v <= 0 {
		return d
	}
	return v
}
