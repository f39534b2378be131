package main

import (
	"fmt"
	"maps"
	"time"
)

// scenario is one k6 script of loadtest/ and how the comparison runs it.
type scenario struct {
	name   string // the report's row of it
	script string // the script is loadtest/<script>.js; name when empty
	title  string // what it shows, for the report
	// optional scenarios run only when -scenarios names them.
	optional bool
	// full and quick are the script's env (DURATION and its own knobs) in each mode.
	full, quick map[string]string
	// fullS and quickS are the seconds its main load lasts: the denominator of the rates.
	fullS, quickS float64
	// warmS is an unmeasured run of read.js before the cell (full mode only): the read
	// workload is measured warm, the others start from an empty namespace.
	warmS float64
	// steady says its main load is DURATION at the rate and nothing else: -seconds may lengthen it.
	steady bool
}

// scenarios is the matrix's rows, in report order.
var scenarios = []scenario{
	{
		name: "read", steady: true, title: "Zipf(s) reads over the catalogue at the rate: the main workload (measured after a warm load)",
		full: map[string]string{"DURATION": "20s"}, fullS: 20, warmS: 10,
		quick: map[string]string{"DURATION": "4s"}, quickS: 4,
	},
	{
		name: "read-write", steady: true, script: "read",
		title: "the read workload with writers updating products at WRITE_RATE/s meanwhile (If-Match, ids from the same Zipf " +
			"distribution: the popular products are the ones written); the figures are the readers'",
		full: map[string]string{"DURATION": "20s", "WRITE_RATE": "20"}, fullS: 20, warmS: 10,
		quick: map[string]string{"DURATION": "4s", "WRITE_RATE": "20"}, quickS: 4,
	},
	{
		name: "breakdown", steady: true, title: "one hot product at the rate, its key expiring by its TTL (HOT_TTL, no jitter) again and again " +
			"(stampede); expiries counted as floor(DURATION / HOT_TTL)",
		full: map[string]string{"DURATION": "20s", "EXPIRY": "ttl", "HOT_TTL": "3s"}, fullS: 20,
		quick: map[string]string{"DURATION": "7s", "EXPIRY": "ttl", "HOT_TTL": "2s"}, quickS: 7,
	},
	{
		name: "breakdown-evict", steady: true, script: "breakdown", optional: true,
		title: "one hot product at the rate, its key dropped from every layer every EVICT_EVERY (a hard expiry no preset sees coming)",
		full:  map[string]string{"DURATION": "20s", "EXPIRY": "evict", "EVICT_EVERY": "2s"}, fullS: 20,
		quick: map[string]string{"DURATION": "5s", "EXPIRY": "evict", "EVICT_EVERY": "1s"}, quickS: 5,
	},
	{
		name: "avalanche", title: "KEYS products warmed with one short TTL, then the load through their expiry",
		full: map[string]string{"DURATION": "35s", "AVALANCHE_TTL": "20s", "KEYS": "10000"}, fullS: 35,
		quick: map[string]string{"DURATION": "6s", "AVALANCHE_TTL": "3s", "KEYS": "2000"}, quickS: 6,
	},
	{
		name: "penetration", steady: true, title: "ids that do not exist (uniform over 10,000 unknown ids)",
		full: map[string]string{"DURATION": "15s"}, fullS: 15,
		quick: map[string]string{"DURATION": "4s"}, quickS: 4,
	},
	{
		name: "consistency", steady: true, title: "writers (20/s, If-Match) and readers of the same 50 products; reads older than an acknowledged or seen version",
		full: map[string]string{"DURATION": "20s"}, fullS: 20,
		quick: map[string]string{"DURATION": "5s"}, quickS: 5,
	},
	{
		name: "spike", title: "the read workload ramped from the rate to PEAK_RATE, held, and back",
		full: map[string]string{"RAMP": "10s", "HOLD": "10s", "RAMP_DOWN": "5s", "PEAK_RATE": "2000"}, fullS: 25,
		quick: map[string]string{"RAMP": "2s", "HOLD": "2s", "RAMP_DOWN": "1s", "PEAK_RATE": "1000"}, quickS: 5,
	},
	{
		name: "soak", title: "the read workload held steady for longer",
		full: map[string]string{"DURATION": "60s"}, fullS: 60,
		quick: map[string]string{"DURATION": "5s"}, quickS: 5,
	},
}

// scenarioNames lists every scenario; with optional false, only those run by default.
func scenarioNames(optional bool) []string {
	var names []string
	for _, s := range scenarios {
		if optional || !s.optional {
			names = append(names, s.name)
		}
	}
	return names
}

// optionalScenarios lists the scenarios that run only when named.
func optionalScenarios() []string {
	var names []string
	for _, s := range scenarios {
		if s.optional {
			names = append(names, s.name)
		}
	}
	return names
}

// file is the script's name without its directory and .js.
func (s scenario) file() string {
	if s.script != "" {
		return s.script
	}
	return s.name
}

// kind is what the scenario is a variant of: the script's name (read-write is a read).
func kind(name string) string {
	if s, ok := findScenario(name); ok {
		return s.file()
	}
	return name
}

func findScenario(name string) (scenario, bool) {
	for _, s := range scenarios {
		if s.name == name {
			return s, true
		}
	}
	return scenario{}, false
}

// envOf returns the scenario's knobs as o runs it (-seconds lengthens a steady load).
func (o options) envOf(s scenario) map[string]string {
	env := s.env(o.quick)
	if o.seconds > 0 && !o.quick && s.steady {
		env = maps.Clone(env)
		env["DURATION"] = fmt.Sprintf("%ds", o.seconds)
	}
	return env
}

// secondsOf returns how long the scenario's main load lasts as o runs it.
func (o options) secondsOf(s scenario) float64 {
	if o.seconds > 0 && !o.quick && s.steady {
		return float64(o.seconds)
	}
	return s.seconds(o.quick)
}

// env returns the scenario's knobs in the mode.
func (s scenario) env(quick bool) map[string]string {
	if quick {
		return s.quick
	}
	return s.full
}

// seconds returns how long the scenario's main load lasts in the mode.
func (s scenario) seconds(quick bool) float64 {
	if quick {
		return s.quickS
	}
	return s.fullS
}

// warm returns the unmeasured warm load before the cell, in seconds (none in quick mode).
func (s scenario) warm(quick bool) float64 {
	if quick {
		return 0
	}
	return s.warmS
}

// cellKey names one cell of the matrix.
type cellKey struct {
	Scenario, Preset string
}

func (k cellKey) String() string { return fmt.Sprintf("%s × %s", k.Scenario, k.Preset) }

// estimate is roughly how long the matrix takes.
func estimate(o options) time.Duration {
	var total float64
	for _, name := range o.scenarios {
		s, _ := findScenario(name)
		total += (o.secondsOf(s) + s.warm(o.quick) + cellOverheadS) * float64(len(o.columns()))
	}
	return time.Duration(total*float64(o.repeat)) * time.Second
}

// cellOverheadS is about what a cell costs besides its load: k6's start, setup and summary.
const cellOverheadS = 3
