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
	Tags []keyValue `json:"tags"`
	// Logs are the span's events: the field "event" holds the name.
	Logs []struct {
		Fields []keyValue `json:"fields"`
	} `json:"logs"`
}

type keyValue struct {
	Key   string `json:"key"`
	Value any    `json:"value"`
}

// logs returns the fields of the span's events called name.
func (s span) logs(name string) []map[string]string {
	var out []map[string]string
	for _, l := range s.Logs {
		fields := map[string]string{}
		for _, kv := range l.Fields {
			fields[kv.Key] = fmt.Sprint(kv.Value)
		}
		if fields["event"] == name {
			out = append(out, fields)
		}
	}
	return out
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
	return s.ref(to) != ""
}

// ref is the type of s's reference to the span to (CHILD_OF for its
// parent, FOLLOWS_FROM for a link); "" when it has none.
func (s span) ref(to span) string {
	for _, r := range s.References {
		if id(r.TraceID, 32) == id(to.TraceID, 32) && id(r.SpanID, 16) == id(to.SpanID, 16) {
			return r.RefType
		}
	}
	return ""
}

// id normalises a hex ID: Jaeger may drop leading zeros.
func id(hex string, width int) string {
	hex = strings.ToLower(hex)
	if len(hex) < width {
		hex = strings.Repeat("0", width-len(hex)) + hex
	}
	return hex
}

var (
	attemptLine = regexp.MustCompile(`(?m)^charge_card\s+attempt (\d) .*trace ([0-9a-f]{32})$`)
	// The lines of the workflow's runs and of its children.
	workflowLine = regexp.MustCompile(`(?m)^(fulfil_order  parked|fulfil_order  resumed|pack_parcel|print_label)\b.*trace ([0-9a-f]{32})$`)
)

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
	for _, m := range workflowLine.FindAllStringSubmatch(out, -1) {
		printed[strings.Fields(m[1])[len(strings.Fields(m[1]))-1]] = m[2] // parked, resumed, pack_parcel, print_label
	}
	if len(printed) != 7 {
		t.Fatalf("samples/tracing printed the trace IDs of %d of fulfil_order's 2 runs and 2 children:\n%s", len(printed)-3, out)
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
			// The trace of the run that parked, as Jaeger's UI shows it at
			// /trace/<id>: the run's span and its step beneath it.
			tree := "http://" + j.queryHTTP + "/api/traces/" + printed["parked"]
			spans, err = fetch(tree)
			if err != nil {
				problems = []string{err.Error()}
			} else {
				problems = verifyRunTrace(spans)
			}
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
	if okCheckout {
		problems = append(problems, verifyWorkflow(byName, checkout, printed)...)
	}
	return problems
}

// verifyWorkflow lists what is missing or wrong among the spans of the
// workflow fulfil_order: its two runs, each a trace of its own that
// FOLLOWS_FROM the add in the checkout trace; the first parked (a "parked"
// event), with its step "step reserve_stock" as a CHILD_OF span and a
// "child started" event per child; each child's attempt a trace of its own
// that FOLLOWS_FROM that run's span; the second resumed (a "resumed"
// event), with "step dispatch" as a CHILD_OF span.
func verifyWorkflow(byName map[string][]span, checkout span, printed map[string]string) []string {
	var problems []string
	add := byName["add fulfil_order"]
	if len(add) != 1 {
		return []string{fmt.Sprintf("%d spans \"add fulfil_order\", want 1", len(add))}
	}
	if add[0].ref(checkout) != "CHILD_OF" {
		problems = append(problems, `span "add fulfil_order" is not a child of "checkout"`)
	}
	runs := map[string]span{} // "parked", "resumed" -> the run's span
	for _, s := range byName["fulfil_order"] {
		for _, event := range []string{"parked", "resumed"} {
			if len(s.logs(event)) > 0 {
				if _, dup := runs[event]; dup {
					problems = append(problems, fmt.Sprintf("two fulfil_order spans with a %q event", event))
				}
				runs[event] = s
			}
		}
		if ref := s.ref(add[0]); ref != "FOLLOWS_FROM" {
			problems = append(problems, fmt.Sprintf("fulfil_order run (span %s) has reference %q to \"add fulfil_order\", want FOLLOWS_FROM", s.SpanID, ref))
		}
	}
	if n := len(byName["fulfil_order"]); n != 2 {
		problems = append(problems, fmt.Sprintf("%d fulfil_order spans, want 2: a run that parks, one that resumes", n))
	}
	for event, step := range map[string]string{"parked": "reserve_stock", "resumed": "dispatch"} {
		run, ok := runs[event]
		if !ok {
			problems = append(problems, fmt.Sprintf("no fulfil_order span with a %q event", event))
			continue
		}
		if id(run.TraceID, 32) != printed[event] {
			problems = append(problems, fmt.Sprintf("the fulfil_order run that %s is in trace %s, the sample printed %s", event, run.TraceID, printed[event]))
		}
		steps := byName["step "+step]
		if len(steps) != 1 {
			problems = append(problems, fmt.Sprintf("%d spans \"step %s\", want 1", len(steps), step))
			continue
		}
		if steps[0].ref(run) != "CHILD_OF" || id(steps[0].TraceID, 32) != id(run.TraceID, 32) {
			problems = append(problems, fmt.Sprintf("span \"step %s\" is not a child of the fulfil_order run that %s (span %s): %+v", step, event, run.SpanID, steps[0].References))
		}
		if got := steps[0].tag("docket.step"); got != step {
			problems = append(problems, fmt.Sprintf("span \"step %s\" has docket.step %q", step, got))
		}
	}
	parked, ok := runs["parked"]
	if !ok {
		return problems
	}
	if w := parked.logs("parked"); len(w) == 1 && w[0]["docket.waiting_for"] == "" {
		problems = append(problems, `the "parked" event of fulfil_order has no docket.waiting_for`)
	}
	key := parked.tag("docket.key")
	started := map[string]bool{}
	for _, f := range parked.logs("child started") {
		started[f["docket.key"]] = true
	}
	for task, name := range map[string]string{"pack_parcel": "pack", "print_label": "label"} {
		if !started[key+"/"+name] {
			problems = append(problems, fmt.Sprintf("the fulfil_order run that parked has no \"child started\" event for %s/%s", key, name))
		}
		children := byName[task]
		if len(children) != 1 {
			problems = append(problems, fmt.Sprintf("%d spans %q, want 1", len(children), task))
			continue
		}
		c := children[0]
		if ref := c.ref(parked); ref != "FOLLOWS_FROM" {
			problems = append(problems, fmt.Sprintf("%s (span %s) has reference %q to the fulfil_order run that started it (span %s), want FOLLOWS_FROM: %+v",
				task, c.SpanID, ref, parked.SpanID, c.References))
		}
		if id(c.TraceID, 32) == id(parked.TraceID, 32) || id(c.TraceID, 32) != printed[task] {
			problems = append(problems, fmt.Sprintf("%s is in trace %s, want a trace of its own, the one the sample printed (%s)", task, c.TraceID, printed[task]))
		}
		if got := c.tag("docket.key"); got != key+"/"+name {
			problems = append(problems, fmt.Sprintf("%s has docket.key %q, want %s/%s", task, got, key, name))
		}
	}
	return problems
}

// verifyRunTrace lists what is missing from the trace of the fulfil_order
// run that parked, as /api/traces/<id> returns it: the run's span, and its
// step beneath it.
func verifyRunTrace(spans []span) []string {
	byName := map[string][]span{}
	for _, s := range spans {
		byName[s.OperationName] = append(byName[s.OperationName], s)
	}
	runs, steps := byName["fulfil_order"], byName["step reserve_stock"]
	if len(runs) != 1 || len(steps) != 1 {
		return []string{fmt.Sprintf("the trace of the run that parked has %d fulfil_order and %d \"step reserve_stock\" spans, want 1 and 1", len(runs), len(steps))}
	}
	if steps[0].ref(runs[0]) != "CHILD_OF" {
		return []string{`in the trace of the run that parked, "step reserve_stock" is not a child of fulfil_order`}
	}
	return nil
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
