//go:build jaegere2e

package jaeger

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// How long Jaeger may take to start, and spans to show up in its API.
const (
	startDeadline = 60 * time.Second
	spansDeadline = 60 * time.Second
)

func TestJaegerShowsEveryAttempt(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	bin := jaegerBinary(t, root)
	sample := buildSample(t, root)
	j := startJaeger(t, bin, root)

	for _, protocol := range []string{"grpc", "http/protobuf"} {
		t.Run(strings.ReplaceAll(protocol, "/", "_"), func(t *testing.T) {
			service := fmt.Sprintf("docket-e2e-%s-%d", strings.ReplaceAll(protocol, "/", "-"), time.Now().UnixNano())
			endpoint := "http://" + j.otlpGRPC
			if protocol == "http/protobuf" {
				endpoint = "http://" + j.otlpHTTP
			}
			out := runSample(t, sample, map[string]string{
				"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
				"OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
				"OTEL_SERVICE_NAME":           service,
			})
			checkTraces(t, j, service, out)
		})
	}
}

// jaegerBinary is DOCKET_JAEGER_BIN, or what scripts/jaeger.sh builds.
func jaegerBinary(t *testing.T, root string) string {
	if bin := os.Getenv("DOCKET_JAEGER_BIN"); bin != "" {
		return bin
	}
	cmd := exec.Command(filepath.Join(root, "scripts", "jaeger.sh"))
	cmd.Stderr = os.Stderr // build progress
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("scripts/jaeger.sh could not build Jaeger: %v", err)
	}
	return strings.TrimSpace(string(out))
}

func buildSample(t *testing.T, root string) string {
	bin := filepath.Join(t.TempDir(), "tracing")
	cmd := exec.Command("go", "build", "-o", bin, "./samples/tracing")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building samples/tracing: %v\n%s", err, out)
	}
	return bin
}

type jaeger struct {
	otlpGRPC, otlpHTTP, queryHTTP string // host:port
	log                           string
}

// startJaeger runs Jaeger with tools/jaeger/config.yaml on free loopback
// ports, until the test ends.
func startJaeger(t *testing.T, bin, root string) *jaeger {
	ports := freePorts(t, 4)
	j := &jaeger{otlpGRPC: ports[0], otlpHTTP: ports[1], queryHTTP: ports[2], log: filepath.Join(t.TempDir(), "jaeger.log")}
	logFile, err := os.Create(j.log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config", filepath.Join(root, "tools", "jaeger", "config.yaml"))
	cmd.Env = append(os.Environ(),
		"DOCKET_JAEGER_OTLP_GRPC="+j.otlpGRPC,
		"DOCKET_JAEGER_OTLP_HTTP="+j.otlpHTTP,
		"DOCKET_JAEGER_QUERY_HTTP="+j.queryHTTP,
		"DOCKET_JAEGER_QUERY_GRPC="+ports[3],
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	killWithParent(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting Jaeger %s: %v", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); _ = logFile.Close() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("Jaeger's log (%s):\n%s", j.log, tail(j.log, 40))
		}
	})

	deadline := time.Now().Add(startDeadline)
	for {
		select {
		case err := <-exited:
			t.Fatalf("Jaeger exited while starting: %v\n%s", err, tail(j.log, 40))
		default:
		}
		if ready(j) {
			t.Logf("Jaeger %s: OTLP gRPC %s, OTLP HTTP %s, UI and API http://%s", bin, j.otlpGRPC, j.otlpHTTP, j.queryHTTP)
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("Jaeger did not answer on %s within %v\n%s", j.queryHTTP, startDeadline, tail(j.log, 40))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// ready tells whether Jaeger's query API answers and its OTLP receivers
// accept connections.
func ready(j *jaeger) bool {
	for _, addr := range []string{j.otlpGRPC, j.otlpHTTP} {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false
		}
		_ = c.Close()
	}
	resp, err := http.Get("http://" + j.queryHTTP + "/api/services")
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func freePorts(t *testing.T, n int) []string {
	var addrs []string
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		addrs = append(addrs, ln.Addr().String())
	}
	for _, ln := range lns {
		_ = ln.Close()
	}
	return addrs
}

func runSample(t *testing.T, bin string, env map[string]string) string {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = os.Environ()
	for _, name := range []string{
		"DOCKET_URL", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
		"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
		"OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER", "OTEL_TRACES_SAMPLER", "OTEL_RESOURCE_ATTRIBUTES",
	} {
		cmd.Env = append(cmd.Env, name+"=")
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("samples/tracing failed: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr.String())
	}
	t.Logf("samples/tracing (%s):\n%s", env["OTEL_SERVICE_NAME"], out)
	return string(out)
}

// The Jaeger HTTP query API's answer to /api/traces (the fields used).
type traces struct {
	Data []struct {
		TraceID string `json:"traceID"`
		Spans   []span `json:"spans"`
	} `json:"data"`
	Errors []struct {
		Msg string `json:"msg"`
	} `json:"errors"`
}

type span struct {
	TraceID       string `json:"traceID"`
	SpanID        string `json:"spanID"`
	OperationName string `json:"operationName"`
	References    []struct {
		RefType string `json:"refType"`
		TraceID string `json:"traceID"`
		SpanID  string `json:"spanID"`
	} `json:"references"`
	Tags []struct {
		Key   string `json:"key"`
		Value any    `json:"value"`
	} `json:"tags"`
}

func (s span) tag(key string) string {
	for _, kv := range s.Tags {
		if kv.Key == key {
			return fmt.Sprint(kv.Value)
		}
	}
	return ""
}

// refersTo tells whether s has a reference (CHILD_OF or FOLLOWS_FROM) to
// the span to.
func (s span) refersTo(to span) bool {
	for _, r := range s.References {
		if id(r.TraceID, 32) == id(to.TraceID, 32) && id(r.SpanID, 16) == id(to.SpanID, 16) {
			return true
		}
	}
	return false
}

// id normalises a hex ID: Jaeger may drop leading zeros.
func id(hex string, width int) string {
	hex = strings.ToLower(hex)
	if len(hex) < width {
		hex = strings.Repeat("0", width-len(hex)) + hex
	}
	return hex
}

var attemptLine = regexp.MustCompile(`(?m)^charge_card\s+attempt (\d) .*trace ([0-9a-f]{32})$`)

// checkTraces polls Jaeger until the service's spans are all there: the
// checkout span, the add's producer span inside it, and the three attempts
// of charge_card, each referring to the add, in the traces the sample
// printed. It fails, saying what is missing, at the deadline.
func checkTraces(t *testing.T, j *jaeger, service, out string) {
	printed := map[string]string{} // attempt -> trace ID the sample printed
	for _, m := range attemptLine.FindAllStringSubmatch(out, -1) {
		printed[m[1]] = m[2]
	}
	if len(printed) != 3 {
		t.Fatalf("samples/tracing printed %d charge_card attempts with their trace IDs, want 3:\n%s", len(printed), out)
	}

	q := url.Values{"service": {service}, "limit": {"100"}, "lookback": {"1h"}}
	api := "http://" + j.queryHTTP + "/api/traces?" + q.Encode()
	deadline := time.Now().Add(spansDeadline)
	var problems []string
	for {
		spans, err := fetch(api)
		if err != nil {
			problems = []string{err.Error()}
		} else {
			problems = verify(spans, printed)
		}
		if len(problems) == 0 {
			t.Logf("Jaeger has every span of %s: %s", service, api)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Jaeger (%s) is missing spans of service %s after %v:\n  %s",
				api, service, spansDeadline, strings.Join(problems, "\n  "))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func fetch(api string) ([]span, error) {
	resp, err := http.Get(api)
	if err != nil {
		return nil, fmt.Errorf("query API: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("query API: %s", resp.Status)
	}
	var body traces
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("query API: decoding: %v", err)
	}
	if len(body.Errors) > 0 {
		return nil, fmt.Errorf("query API: %s", body.Errors[0].Msg)
	}
	var spans []span
	for _, tr := range body.Data {
		spans = append(spans, tr.Spans...)
	}
	return spans, nil
}

// verify lists what is missing or wrong among the spans; none when all is
// well.
func verify(spans []span, printed map[string]string) []string {
	byName := map[string][]span{}
	for _, s := range spans {
		byName[s.OperationName] = append(byName[s.OperationName], s)
	}
	var problems []string
	one := func(name string) (span, bool) {
		switch n := len(byName[name]); n {
		case 1:
			return byName[name][0], true
		case 0:
			problems = append(problems, fmt.Sprintf("no span %q", name))
		default:
			problems = append(problems, fmt.Sprintf("%d spans %q, want 1", n, name))
		}
		return span{}, false
	}
	checkout, okCheckout := one("checkout")
	add, okAdd := one("add charge_card")
	if okAdd {
		if kind := add.tag("span.kind"); kind != "producer" {
			problems = append(problems, fmt.Sprintf("span %q has span.kind %q, want producer", add.OperationName, kind))
		}
		if okCheckout && !add.refersTo(checkout) {
			problems = append(problems, `span "add charge_card" is not a child of "checkout"`)
		}
	}

	attempts := map[string]span{}
	for _, s := range byName["charge_card"] {
		a := s.tag("docket.attempt")
		if _, dup := attempts[a]; dup {
			problems = append(problems, fmt.Sprintf("two charge_card spans with docket.attempt=%s", a))
		}
		attempts[a] = s
	}
	for n := 1; n <= 3; n++ {
		a := strconv.Itoa(n)
		s, ok := attempts[a]
		if !ok {
			problems = append(problems, fmt.Sprintf("no span of charge_card attempt %s (docket.attempt=%s)", a, a))
			continue
		}
		if okAdd && !s.refersTo(add) {
			problems = append(problems, fmt.Sprintf("charge_card attempt %s (span %s) has no reference to the producer span \"add charge_card\" (%s): %+v",
				a, s.SpanID, add.SpanID, s.References))
		}
		if id(s.TraceID, 32) != printed[a] {
			problems = append(problems, fmt.Sprintf("charge_card attempt %s is in trace %s, the sample printed %s", a, s.TraceID, printed[a]))
		}
		if kind := s.tag("span.kind"); kind != "consumer" {
			problems = append(problems, fmt.Sprintf("charge_card attempt %s has span.kind %q, want consumer", a, kind))
		}
	}
	if len(attempts) > 3 {
		var keys []string
		for a := range attempts {
			keys = append(keys, a)
		}
		sort.Strings(keys)
		problems = append(problems, fmt.Sprintf("charge_card spans for attempts %v, want 1, 2, 3", keys))
	}
	return problems
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}
