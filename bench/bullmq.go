package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// bullmqContender is BullMQ (the version node/package-lock.json pins), run
// by node/bullmq.mjs in a node process of its own for each measurement.
type bullmqContender struct {
	node string // the node binary
	dir  string // node/, holding bullmq.mjs and node_modules
}

// findBullMQ returns the BullMQ contender when node is installed, running
// `npm ci` first if node_modules is missing. The reason is set when it
// cannot run.
func findBullMQ(ctx context.Context, dir string) (c *bullmqContender, reason string) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, "node is not installed"
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err.Error()
	}
	if _, err := os.Stat(filepath.Join(dir, "bullmq.mjs")); err != nil {
		return nil, fmt.Sprintf("%s/bullmq.mjs not found (run from bench/, or pass -node-dir)", dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "bullmq")); err != nil {
		npm, err := exec.LookPath("npm")
		if err != nil {
			return nil, "node_modules is missing and npm is not installed"
		}
		fmt.Fprintf(os.Stderr, "installing BullMQ: npm ci in %s\n", dir)
		cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund")
		cmd.Dir = dir
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Sprintf("npm ci failed: %v", err)
		}
	}
	return &bullmqContender{node: node, dir: dir}, ""
}

func (*bullmqContender) Name() string { return "bullmq" }

func (*bullmqContender) Describe(cfg config) string {
	return fmt.Sprintf("enqueue: Queue.addBulk, %d jobs per call, %d concurrent caller(s); process: one Worker, concurrency %d, removeOnComplete",
		cfg.Batch, cfg.Producers, cfg.Concurrency)
}

// run runs the script in mode with the given settings and decodes its
// JSON result into out.
func (c *bullmqContender) run(ctx context.Context, mode string, settings map[string]any, timeout time.Duration, out any) error {
	raw, err := json.Marshal(settings)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.node, "bullmq.mjs", mode, string(raw))
	cmd.Dir = c.dir
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("node bullmq.mjs %s: %w", mode, err)
	}
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), out); err != nil {
		return fmt.Errorf("node bullmq.mjs %s: bad output %q: %w", mode, stdout.String(), err)
	}
	return nil
}

func (c *bullmqContender) Throughput(ctx context.Context, s *server, cfg config, _ profiles) (throughputResult, error) {
	var out struct {
		EnqueueSeconds, ProcessSeconds     float64
		Ran, Queued                        int
		MemBefore, MemAfter, MemFinal      int64
		EnqueueRedisCPU, ProcessRedisCPU   float64
		EnqueueClientCPU, ProcessClientCPU float64
	}
	err := c.run(ctx, "throughput", map[string]any{
		"port": s.port, "n": cfg.N, "concurrency": cfg.Concurrency, "batch": cfg.Batch,
		"producers": cfg.Producers, "warmup": cfg.Warmup,
	}, 2*cfg.Timeout, &out)
	if err != nil {
		return throughputResult{}, err
	}
	return throughputResult{
		N: cfg.N, Ran: out.Ran, Queued: out.Queued,
		Enqueue:     time.Duration(out.EnqueueSeconds * float64(time.Second)),
		Process:     time.Duration(out.ProcessSeconds * float64(time.Second)),
		MemBefore:   out.MemBefore,
		MemAfter:    out.MemAfter,
		MemFinal:    out.MemFinal,
		EnqueueCost: cost{RedisCPU: out.EnqueueRedisCPU, ClientCPU: out.EnqueueClientCPU},
		ProcessCost: cost{RedisCPU: out.ProcessRedisCPU, ClientCPU: out.ProcessClientCPU},
	}, nil
}

func (c *bullmqContender) Latency(ctx context.Context, s *server, cfg config, loadRate float64) (latencyResult, error) {
	var out struct {
		Lateness            []float64
		Count, Ran          int
		LoadAdded, LoadDone int
		LoadSeconds         float64
		ScheduledWithinMs   float64
	}
	err := c.run(ctx, "latency", map[string]any{
		"port": s.port, "count": cfg.LatencyCount, "concurrency": cfg.Concurrency,
		"spreadFromMs": ms(cfg.SpreadFrom), "spreadToMs": ms(cfg.SpreadTo), "loadRate": loadRate,
		"warmup": min(cfg.Warmup, 2000), "settleMs": ms(settle),
	}, cfg.SpreadTo+latencyGrace+time.Minute, &out)
	if err != nil {
		return latencyResult{}, err
	}
	res := latencyResult{
		Count:           out.Count,
		Lateness:        out.Lateness,
		ScheduledWithin: time.Duration(out.ScheduledWithinMs * float64(time.Millisecond)),
		Load:            loadStats{Rate: loadRate, Added: out.LoadAdded, Ran: out.LoadDone, Seconds: out.LoadSeconds},
	}
	if out.Ran < out.Count {
		res.Notes = append(res.Notes, "timed out waiting for the scheduled tasks")
	}
	return res, nil
}
