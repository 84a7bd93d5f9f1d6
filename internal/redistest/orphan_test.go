package redistest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"
)

// childEnv makes the test binary a child that starts a redis-server, says
// its address, and waits to be killed.
const childEnv = "DOCKET_REDISTEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		runChild()
		return
	}
	os.Exit(m.Run())
}

func runChild() {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	dir, err := os.MkdirTemp("", "docket-redis-child-")
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	port, err := pickPort()
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	srv := &Server{dir: dir}
	if err := srv.launch(bin, port); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println(srv.Addr, dir)
	select {} // until killed, its cleanups never run
}

// A test binary killed before its cleanups run (go test's -timeout, an
// interrupt) leaves no redis-server behind: the server dies with it.
func TestAServerDiesWithItsTestBinary(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("only Linux ties a child's life to its parent's (Pdeathsig)")
	}
	findServer(t)
	cmd := exec.Command(os.Args[0], "-test.run", "^$")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.HasPrefix(line, "error:") {
		_ = cmd.Process.Kill()
		t.Fatalf("the child did not start a server: %q %v", line, err)
	}
	addr, dir, _ := strings.Cut(strings.TrimSpace(line), " ")
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatalf("the child's server at %s does not answer: %v", addr, err)
	}
	_ = c.Close()

	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return // gone with its parent
		}
		_ = c.Close()
		if time.Now().After(deadline) {
			t.Fatalf("the redis-server at %s outlived the test binary that started it", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
