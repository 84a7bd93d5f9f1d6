// Command bench compares docket with peer task queues on one Redis: batch
// enqueue and no-op processing throughput, Redis memory and CPU per task,
// and the lateness of tasks scheduled for a future instant, idle and under
// load. It is a program, not a test: nothing here asserts a timing.
//
// Run it from this directory:
//
//	go run .                  # N=100000, 3 runs of each measurement
//	go run . -n 20000 -runs 1 # a quick look
//	go run . -profile-dir /tmp/prof  # also CPU profiles of docket's enqueue and process phases
//
// It starts one redis-server (no persistence) on a free loopback port, used
// by every contender and flushed between them, and stops it at the end.
// BullMQ runs when node is installed (npm ci in node/ on first use).
package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/docket-go/docket/worker"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type options struct {
	cfg config
	// concurrencies are the worker concurrencies throughput is measured
	// at, for every contender; latency uses the first.
	concurrencies []int
	runs          int
	latencyRuns   int
	loadRate      float64
	only          string
	profileDir    string
	redisServer   string
	nodeDir       string
	verbose       bool
	skipLatency   bool
	wf            wfSettings    // the workflow benchmark's (-only workflow)
	scale         scaleSettings // the scale benchmark's (-only scale)
}

func parseFlags() options {
	var o options
	flag.IntVar(&o.cfg.N, "n", 100_000, "no-op tasks per throughput measurement")
	concurrency := flag.String("concurrency", "50,200", "concurrencies of the one worker of each contender, comma-separated: throughput is measured at each, latency at the first")
	flag.IntVar(&o.cfg.Batch, "batch", 1000, "tasks per batch-enqueue call (docket AddMany, BullMQ addBulk)")
	flag.IntVar(&o.cfg.Producers, "producers", 1, "concurrent batch-enqueue callers (docket, BullMQ)")
	flag.IntVar(&o.cfg.AsynqProducers, "asynq-producers", 64, "concurrent Client.Enqueue callers for asynq, which has no batch enqueue")
	flag.IntVar(&o.cfg.Warmup, "warmup", 5000, "tasks enqueued and processed before each throughput measurement, not timed")
	flag.DurationVar(&o.cfg.Timeout, "timeout", 5*time.Minute, "the longest one processing phase may take")
	flag.IntVar(&o.cfg.LatencyCount, "latency-count", 2000, "tasks scheduled for a future instant, per latency measurement")
	flag.DurationVar(&o.cfg.SpreadFrom, "spread-from", time.Second, "the first scheduled task is due this long ahead")
	flag.DurationVar(&o.cfg.SpreadTo, "spread-to", 3*time.Second, "the scheduled tasks are due before this long ahead")
	flag.IntVar(&o.runs, "runs", 3, "throughput measurements of each contender (the median is reported)")
	flag.IntVar(&o.latencyRuns, "latency-runs", 3, "latency measurements of each contender, idle and under load")
	flag.Float64Var(&o.loadRate, "load-rate", 0, "no-op tasks a second added during the under-load latency measurement; 0: half the slowest contender's median process rate")
	flag.StringVar(&o.only, "only", "docket,docket-keep,asynq,bullmq", "contenders to run, comma-separated; \"workflow\" (not in the default) adds the workflow benchmark: -only workflow runs it alone; \"scale\" (not in the default) adds the scale benchmark: -only scale runs it alone")
	flag.IntVar(&o.wf.Children, "workflow-children", 10_000, "workflow benchmark: children of the fan-out, and independent tasks it is compared with")
	flag.IntVar(&o.wf.Steps, "workflow-steps", 100, "workflow benchmark: steps of the workflow whose round trips are counted")
	flag.IntVar(&o.wf.Parked, "workflow-parked", 10_000, "workflow benchmark: workflows parked at once on a signal")
	flag.IntVar(&o.wf.Runs, "workflow-runs", 5, "workflow benchmark: runs of each measurement (the median is reported)")
	flag.IntVar(&o.scale.N, "scale-n", 1_000_000, "scale benchmark: no-op tasks queued at once")
	flag.IntVar(&o.scale.Concurrency, "scale-concurrency", 200, "scale benchmark: the worker's concurrency")
	flag.IntVar(&o.scale.Step, "scale-step", 100_000, "scale benchmark: tasks per reported segment of the processing")
	flag.IntVar(&o.scale.Reads, "scale-reads", 5, "scale benchmark: Snapshot and overview calls measured with every task queued")
	flag.DurationVar(&o.scale.Timeout, "scale-timeout", 10*time.Minute, "scale benchmark: the longest the processing may take")
	flag.StringVar(&o.profileDir, "profile-dir", "", "write CPU profiles of docket's enqueue and process phases (first measured run) here")
	flag.StringVar(&o.redisServer, "redis-server", "redis-server", "the redis-server binary")
	flag.StringVar(&o.nodeDir, "node-dir", "node", "the directory of bullmq.mjs and its package.json")
	flag.BoolVar(&o.verbose, "v", false, "print Redis command statistics of every phase")
	flag.BoolVar(&o.skipLatency, "skip-latency", false, "measure throughput only")
	flag.Parse()
	for _, c := range strings.Split(*concurrency, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n <= 0 {
			o.concurrencies = nil // reported by run
			break
		}
		o.concurrencies = append(o.concurrencies, n)
	}
	if len(o.concurrencies) > 0 {
		o.cfg.Concurrency = o.concurrencies[0]
	}
	return o
}

func run() error {
	o := parseFlags()
	cfg := o.cfg
	if cfg.N <= 0 || cfg.Concurrency <= 0 || cfg.Batch <= 0 || o.runs <= 0 || cfg.LatencyCount <= 0 || cfg.SpreadTo <= cfg.SpreadFrom {
		return fmt.Errorf("bad settings: -n, every -concurrency, -batch, -runs and -latency-count must be positive and -spread-to after -spread-from")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var contenders []contender
	var skipped []string
	wanted := map[string]bool{}
	for _, name := range strings.Split(o.only, ",") {
		wanted[strings.TrimSpace(name)] = true
	}
	if wanted["docket"] {
		contenders = append(contenders, docketContender{})
	}
	if wanted["docket-keep"] {
		contenders = append(contenders, docketContender{keep: true})
	}
	if wanted["asynq"] {
		contenders = append(contenders, asynqContender{})
	}
	if wanted["bullmq"] {
		if b, reason := findBullMQ(ctx, o.nodeDir); b != nil {
			contenders = append(contenders, b)
		} else {
			skipped = append(skipped, "bullmq: "+reason)
		}
	}
	if len(contenders) == 0 && !wanted["workflow"] && !wanted["scale"] {
		return fmt.Errorf("no contender to run (-only %q)", o.only)
	}

	srv, err := startRedis(ctx, o.redisServer)
	if err != nil {
		return err
	}
	defer srv.stop()

	started := time.Now()
	if len(contenders) == 0 {
		printMachine(ctx, srv)
		if wanted["workflow"] {
			if err := runWorkflow(ctx, srv, o, started); err != nil {
				return err
			}
		}
		if wanted["scale"] {
			return runScale(ctx, srv, o)
		}
		return nil
	}
	printHeader(ctx, srv, o, contenders, skipped)

	// Throughput, interleaved: run 1 of each contender at each concurrency,
	// then run 2, ...
	sweep := map[int]map[string][]throughputResult{}
	for _, conc := range o.concurrencies {
		sweep[conc] = map[string][]throughputResult{}
	}
	for r := range o.runs {
		for ci, conc := range o.concurrencies {
			cfg.Concurrency = conc
			if err := measureThroughput(ctx, srv, o, cfg, contenders, r, ci == 0, sweep[conc]); err != nil {
				return err
			}
		}
	}
	fmt.Println()
	for _, conc := range o.concurrencies {
		cfg.Concurrency = conc
		printThroughput(contenders, sweep[conc], cfg, o.runs)
		fmt.Println()
	}
	best := bestOfSweep(contenders, sweep, o.concurrencies)
	if len(o.concurrencies) > 1 {
		printBest(contenders, best)
	}
	cfg.Concurrency = o.concurrencies[0]
	if err := measureLatencyAndReport(ctx, srv, o, cfg, contenders, sweep, best, started); err != nil {
		return err
	}
	if wanted["workflow"] {
		if err := runWorkflow(ctx, srv, o, time.Now()); err != nil {
			return err
		}
	}
	if wanted["scale"] {
		return runScale(ctx, srv, o)
	}
	return nil
}

// measureThroughput measures each contender once at cfg.Concurrency, and
// adds the results to tp.
func measureThroughput(ctx context.Context, srv *server, o options, cfg config, contenders []contender, r int, first bool, tp map[string][]throughputResult) error {
	for _, c := range contenders {
		if err := srv.flush(ctx); err != nil {
			return err
		}
		var prof profiles
		if r == 0 && first && o.profileDir != "" && c.Name() == "docket" {
			if err := os.MkdirAll(o.profileDir, 0o755); err != nil {
				return err
			}
			prof = profiles{Enqueue: filepath.Join(o.profileDir, "enqueue.pprof"), Process: filepath.Join(o.profileDir, "process.pprof")}
		}
		res, err := c.Throughput(ctx, srv, cfg, prof)
		if err != nil {
			return fmt.Errorf("%s throughput, run %d: %w", c.Name(), r+1, err)
		}
		if res.Ran != res.N {
			res.Notes = append(res.Notes, fmt.Sprintf("ran %d tasks of %d", res.Ran, res.N))
		}
		if res.Queued != res.N {
			res.Notes = append(res.Notes, fmt.Sprintf("%d tasks queued after the enqueue of %d", res.Queued, res.N))
		}
		tp[c.Name()] = append(tp[c.Name()], res)
		fmt.Printf("  run %d c=%-4d %-11s enqueue %7.0f/s in %5.2fs  process %7.0f/s in %5.2fs  redis %4.0f B/task queued, %4.0f B/task after %s\n",
			r+1, cfg.Concurrency, c.Name(), res.enqueueRate(), res.Enqueue.Seconds(), res.processRate(), res.Process.Seconds(), res.memPerTask(),
			res.retainedPerTask(), strings.Join(res.Notes, "; "))
		if o.verbose || r == 0 && first {
			printCommands(c.Name()+" enqueue", res.EnqueueCost, res.N, o.verbose)
			printCommands(c.Name()+" process", res.ProcessCost, res.N, o.verbose)
			if res.RoundTrips != "" {
				fmt.Printf("      %s process round trips: %s\n", c.Name(), res.RoundTrips)
			}
		}
	}
	return nil
}

// measureLatencyAndReport measures lateness at cfg.Concurrency, prints it,
// then compares docket with the targets.
func measureLatencyAndReport(ctx context.Context, srv *server, o options, cfg config, contenders []contender,
	sweep map[int]map[string][]throughputResult, best map[string]concurrencyRate, started time.Time) error {
	tp := sweep[cfg.Concurrency]
	var lat map[string][2][]latencyResult
	loadRate := o.loadRate
	if !o.skipLatency && o.latencyRuns > 0 {
		if loadRate <= 0 {
			loadRate = math.Inf(1)
			for _, c := range contenders {
				loadRate = min(loadRate, median(rates(tp[c.Name()], throughputResult.processRate)))
			}
			loadRate = math.Round(loadRate / 2)
		}
		fmt.Printf("\nLatency: %d tasks due at instants spread over %v..%v ahead; idle, then under a load of %.0f no-op tasks/s\n",
			cfg.LatencyCount, cfg.SpreadFrom, cfg.SpreadTo, loadRate)
		lat = map[string][2][]latencyResult{}
		for r := range o.latencyRuns {
			for _, c := range contenders {
				if !measuresLatency(c) {
					continue
				}
				pair := lat[c.Name()]
				for i, rate := range []float64{0, loadRate} {
					if err := srv.flush(ctx); err != nil {
						return err
					}
					res, err := c.Latency(ctx, srv, cfg, rate)
					if err != nil {
						return fmt.Errorf("%s latency, run %d: %w", c.Name(), r+1, err)
					}
					if res.ScheduledWithin > cfg.SpreadFrom {
						res.Notes = append(res.Notes, fmt.Sprintf("scheduling took %v, past the first due instant", res.ScheduledWithin.Round(time.Millisecond)))
					}
					if res.Load.Err != nil {
						res.Notes = append(res.Notes, "load: "+res.Load.Err.Error())
					}
					pair[i] = append(pair[i], res)
					what := "idle"
					if rate > 0 {
						what = fmt.Sprintf("load (%.0f/s added, %.0f/s ran)", float64(res.Load.Added)/res.Load.Seconds, float64(res.Load.Ran)/res.Load.Seconds)
					}
					fmt.Printf("  run %d %-11s %-38s p50 %8.2f ms  p99 %8.2f ms  max %8.2f ms  (%d/%d ran; scheduled in %v) %s\n",
						r+1, c.Name(), what, percentile(res.Lateness, 50), percentile(res.Lateness, 99), percentile(res.Lateness, 100),
						len(res.Lateness), res.Count, res.ScheduledWithin.Round(time.Millisecond), strings.Join(res.Notes, "; "))
				}
				lat[c.Name()] = pair
			}
		}
		fmt.Println()
		printLatency(contenders, lat, loadRate)
	}
	fmt.Println()
	printTargets(contenders, sweep, tp, best, lat)
	fmt.Printf("\nTotal time: %v; load average at the end: %s\n", time.Since(started).Round(time.Second), loadAverage())
	return nil
}

func printHeader(ctx context.Context, srv *server, o options, contenders []contender, skipped []string) {
	cfg := o.cfg
	printMachine(ctx, srv)
	for _, c := range contenders {
		if b, ok := c.(*bullmqContender); ok {
			fmt.Printf("bullmq: %s, node %s\n", packageVersion(filepath.Join(b.dir, "node_modules", "bullmq")), nodeVersion(b.node))
		}
	}
	fmt.Printf("settings: N=%d, concurrency %v (throughput at each, latency at %d), batch %d, producers %d, asynq producers %d, warm-up %d tasks (not timed), %d runs (median reported)\n",
		cfg.N, o.concurrencies, o.concurrencies[0], cfg.Batch, cfg.Producers, cfg.AsynqProducers, cfg.Warmup, o.runs)
	for _, c := range contenders {
		fmt.Printf("  %-7s %s\n", c.Name(), c.Describe(cfg))
	}
	for _, s := range skipped {
		fmt.Printf("  skipped %s\n", s)
	}
	fmt.Println()
	fmt.Println("Throughput")
}

// printMachine prints what the figures depend on: Go, the machine and its
// load, redis-server, and which docket is measured.
func printMachine(ctx context.Context, srv *server) {
	redisVersion := "?"
	if m, err := srv.info(ctx, "server"); err == nil {
		redisVersion = m["redis_version"]
	}
	fmt.Printf("docket bench: %s, %s/%s, %d CPUs (GOMAXPROCS %d); redis-server %s on %s (no persistence)\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0), redisVersion, srv.addr())
	fmt.Printf("docket: %s\n", docketRevision())
	if bi, ok := debug.ReadBuildInfo(); ok {
		var deps []string
		for _, d := range bi.Deps {
			switch d.Path {
			case "github.com/hibiken/asynq", "github.com/redis/go-redis/v9":
				deps = append(deps, d.Path+" "+d.Version)
			}
		}
		fmt.Printf("modules: %s\n", strings.Join(deps, ", "))
	}
	fmt.Printf("machine load average at start: %s (other processes share these CPUs: absolute rates move with it; ratios within a run are fairer)\n", loadAverage())
}

// docketRevision says which docket the benchmark builds: the parent
// directory's commit, and whether files outside bench/ differ from it.
func docketRevision() string {
	out, err := exec.Command("git", "-C", "..", "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "source in .. (not a git checkout)"
	}
	rev := "commit " + strings.TrimSpace(string(out))
	status, err := exec.Command("git", "-C", "..", "status", "--porcelain", "--", ".", ":!bench").Output()
	if err == nil && len(bytes.TrimSpace(status)) > 0 {
		rev += " plus uncommitted changes outside bench/ (the working tree is what is measured)"
	}
	return rev
}

// loadAverage is the 1, 5 and 15-minute load averages, from /proc/loadavg.
func loadAverage() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func packageVersion(dir string) string {
	raw, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		return "?"
	}
	var p struct{ Version string }
	_ = json.Unmarshal(raw, &p)
	return p.Version
}

func nodeVersion(node string) string {
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(out))
}

func rates(rs []throughputResult, f func(throughputResult) float64) []float64 {
	out := make([]float64, len(rs))
	for i, r := range rs {
		out[i] = f(r)
	}
	return out
}

// printCommands prints what Redis ran for a phase, per task: the Go
// contenders' command statistics, and CPU.
func printCommands(what string, c cost, n int, all bool) {
	type row struct {
		name string
		st   cmdStat
	}
	var rows []row
	for name, st := range c.Commands {
		if name == "info" {
			continue // the meter's own reads
		}
		rows = append(rows, row{name, st})
	}
	if len(rows) == 0 {
		return
	}
	slices.SortFunc(rows, func(a, b row) int { return cmp.Compare(b.st.Usec, a.st.Usec) })
	if !all && len(rows) > 8 {
		rows = rows[:8]
	}
	var parts []string
	for _, r := range rows {
		parts = append(parts, fmt.Sprintf("%s %.2f×/%.2fµs", r.name, float64(r.st.Calls)/float64(n), float64(r.st.Usec)/float64(n)))
	}
	fmt.Printf("      %s per task: redis CPU %.1fµs, client CPU %.1fµs; commands (calls/server time): %s\n",
		what, c.RedisCPU*1e6/float64(n), c.ClientCPU*1e6/float64(n), strings.Join(parts, ", "))
}

func printThroughput(contenders []contender, tp map[string][]throughputResult, cfg config, runs int) {
	fmt.Printf("Throughput: N=%d no-op tasks, concurrency %d, median of %d run(s) [min..max]\n", cfg.N, cfg.Concurrency, runs)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "contender\tenqueue tasks/s\tprocess tasks/s\tredis B/task queued|done\tredis CPU µs/task enq|proc\tclient CPU µs/task enq|proc\t")
	for _, c := range contenders {
		rs := tp[c.Name()]
		enq, proc := rates(rs, throughputResult.enqueueRate), rates(rs, throughputResult.processRate)
		mem := rates(rs, throughputResult.memPerTask)
		perTask := func(f func(throughputResult) float64) float64 { return median(rates(rs, f)) * 1e6 / float64(cfg.N) }
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.0f | %.0f\t%.1f | %.1f\t%.1f | %.1f\t\n", c.Name(),
			withRange(enq), withRange(proc), median(mem), median(rates(rs, throughputResult.retainedPerTask)),
			perTask(func(r throughputResult) float64 { return r.EnqueueCost.RedisCPU }),
			perTask(func(r throughputResult) float64 { return r.ProcessCost.RedisCPU }),
			perTask(func(r throughputResult) float64 { return r.EnqueueCost.ClientCPU }),
			perTask(func(r throughputResult) float64 { return r.ProcessCost.ClientCPU }))
	}
	_ = tw.Flush()
	for _, ours := range []string{"docket", "docket-keep"} {
		if _, ok := tp[ours]; !ok {
			continue
		}
		for _, m := range []struct {
			what string
			f    func(throughputResult) float64
		}{{"enqueue", throughputResult.enqueueRate}, {"process", throughputResult.processRate}} {
			best, bestName := bestPeer(contenders, tp, m.f)
			if bestName != "" {
				fmt.Printf("%s / best peer, %s: %.2f× (best peer: %s, %.0f/s)\n", ours, m.what, median(rates(tp[ours], m.f))/best, bestName, best)
			}
		}
	}
}

func bestPeer(contenders []contender, tp map[string][]throughputResult, f func(throughputResult) float64) (float64, string) {
	best, name := 0.0, ""
	for _, c := range contenders {
		if _, ours := c.(docketContender); ours {
			continue
		}
		if v := median(rates(tp[c.Name()], f)); v > best {
			best, name = v, c.Name()
		}
	}
	return best, name
}

// leanestPeer is the peer that keeps a queued task in the least Redis
// memory, by its median, and that median.
func leanestPeer(contenders []contender, tp map[string][]throughputResult) (float64, string) {
	least, name := 0.0, ""
	for _, c := range contenders {
		if _, ours := c.(docketContender); ours || len(tp[c.Name()]) == 0 {
			continue
		}
		if v := median(rates(tp[c.Name()], throughputResult.memPerTask)); name == "" || v < least {
			least, name = v, c.Name()
		}
	}
	return least, name
}

// concurrencyRate is a contender's median process rate at one concurrency.
type concurrencyRate struct {
	concurrency int
	rate        float64
}

// bestOfSweep is each contender's best median process rate over the
// concurrencies measured: every contender is compared at its best.
func bestOfSweep(contenders []contender, sweep map[int]map[string][]throughputResult, concurrencies []int) map[string]concurrencyRate {
	best := map[string]concurrencyRate{}
	for _, c := range contenders {
		for _, conc := range concurrencies {
			rate := median(rates(sweep[conc][c.Name()], throughputResult.processRate))
			if rate > best[c.Name()].rate {
				best[c.Name()] = concurrencyRate{conc, rate}
			}
		}
	}
	return best
}

func bestPeerOfSweep(contenders []contender, best map[string]concurrencyRate) (concurrencyRate, string) {
	var top concurrencyRate
	name := ""
	for _, c := range contenders {
		if _, ours := c.(docketContender); ours {
			continue
		}
		if b := best[c.Name()]; b.rate > top.rate {
			top, name = b, c.Name()
		}
	}
	return top, name
}

// printBest prints each contender's best process rate over the sweep, and
// docket's ratios to the best peer so measured.
func printBest(contenders []contender, best map[string]concurrencyRate) {
	fmt.Println("Process tasks/s, each contender at its best concurrency (median of its runs there):")
	for _, c := range contenders {
		b := best[c.Name()]
		fmt.Printf("  %-11s %7.0f  (concurrency %d)\n", c.Name(), b.rate, b.concurrency)
	}
	if peer, name := bestPeerOfSweep(contenders, best); name != "" {
		for _, ours := range []string{"docket", "docket-keep"} {
			if b, ok := best[ours]; ok {
				fmt.Printf("%s / best peer, process, each at its best: %.2f× (best peer: %s, %.0f/s)\n", ours, b.rate/peer.rate, name, peer.rate)
			}
		}
	}
	fmt.Println()
}

// measuresLatency says whether the latency runs measure c: docket-keep
// differs from docket only in what it keeps of completed tasks, which
// lateness does not depend on.
func measuresLatency(c contender) bool {
	dc, ours := c.(docketContender)
	return !ours || !dc.keep
}

func withRange(xs []float64) string {
	lo, hi := spread(xs)
	if len(xs) == 1 {
		return fmt.Sprintf("%.0f", xs[0])
	}
	return fmt.Sprintf("%.0f [%.0f..%.0f]", median(xs), lo, hi)
}

func printLatency(contenders []contender, lat map[string][2][]latencyResult, loadRate float64) {
	fmt.Printf("Lateness (start - due), ms: median over runs of each run's percentile [min..max]; load %.0f tasks/s\n", loadRate)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "contender\tidle p50\tidle p99\tidle max\tload p50\tload p99\tload max\t")
	for _, c := range contenders {
		if !measuresLatency(c) {
			continue
		}
		pair := lat[c.Name()]
		fmt.Fprintf(tw, "%s", c.Name())
		for _, rs := range pair {
			for _, p := range []float64{50, 99, 100} {
				fmt.Fprintf(tw, "\t%s", msRange(latPercentiles(rs, p)))
			}
		}
		fmt.Fprintln(tw, "\t")
	}
	_ = tw.Flush()
}

func latPercentiles(rs []latencyResult, p float64) []float64 {
	out := make([]float64, len(rs))
	for i, r := range rs {
		out[i] = percentile(r.Lateness, p)
	}
	return out
}

func msRange(xs []float64) string {
	lo, hi := spread(xs)
	if len(xs) == 1 {
		return fmt.Sprintf("%.2f", xs[0])
	}
	return fmt.Sprintf("%.2f [%.2f..%.2f]", median(xs), lo, hi)
}

// printTargets compares docket's medians with the targets of issue 16 (see
// the README's Performance section): 4× the best peer, each at its best
// concurrency; 3× the best peer at the default concurrency, when measured;
// batch enqueue of 150,000 tasks/s; Redis memory per queued task no more
// than the leanest peer's; p99 lateness of 5 ms at idle.
func printTargets(contenders []contender, sweep map[int]map[string][]throughputResult, tp map[string][]throughputResult,
	best map[string]concurrencyRate, lat map[string][2][]latencyResult) {
	rs, ok := tp["docket"]
	if !ok {
		return
	}
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	fmt.Println("Targets (docket):")
	ours := best["docket"]
	if peer, name := bestPeerOfSweep(contenders, best); name != "" {
		fmt.Printf("  no-op processing >= 4x the best peer:  %.2fx %s (%s; each at its best concurrency: docket %d, %s %d)\n",
			ours.rate/peer.rate, name, verdict(ours.rate >= 4*peer.rate), ours.concurrency, name, peer.concurrency)
	}
	if at, ok := sweep[worker.DefaultConcurrency]; ok {
		if peer, name := bestPeer(contenders, at, throughputResult.processRate); name != "" {
			rate := median(rates(at["docket"], throughputResult.processRate))
			fmt.Printf("  at concurrency %d (the default) >= 3x: %.2fx %s (%s)\n",
				worker.DefaultConcurrency, rate/peer, name, verdict(rate >= 3*peer))
		}
	}
	enq := median(rates(rs, throughputResult.enqueueRate))
	fmt.Printf("  batch enqueue >= 150000 tasks/s:       %.0f/s (%s)\n", enq, verdict(enq >= 150_000))
	if leanest, name := leanestPeer(contenders, tp); name != "" {
		mem := median(rates(rs, throughputResult.memPerTask))
		fmt.Printf("  Redis B per queued task <= the leanest peer's: %.0f B, %s %.0f B (%s)\n", mem, name, leanest, verdict(mem <= leanest))
	}
	if pair, ok := lat["docket"]; ok && len(pair[0]) > 0 {
		p99 := median(latPercentiles(pair[0], 99))
		fmt.Printf("  p99 lateness at idle <= 5 ms:         %.2f ms (%s)\n", p99, verdict(p99 <= 5))
	}
}
