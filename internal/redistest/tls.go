package redistest

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// PKI is a certificate authority made for one test, with a server
// certificate for 127.0.0.1, ::1 and localhost, and a client certificate,
// both signed by it. Nothing of it is committed: the keys are made at run
// time and written to the test's temporary directory.
type PKI struct {
	CAFile   string // the CA certificate, PEM
	CertFile string // the server certificate, PEM
	KeyFile  string // the server key, PEM (PKCS #8)
	// RootCAs trusts the CA, and nothing else.
	RootCAs *x509.CertPool
	// ClientCert is a client certificate the CA signed, for mutual TLS.
	ClientCert tls.Certificate
}

// NewPKI makes a PKI in dir.
func NewPKI(t testing.TB, dir string) *PKI {
	t.Helper()
	p, err := newPKI(dir)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newPKI(dir string) (*PKI, error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "docket test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	issue := func(cn string, usage x509.ExtKeyUsage, server bool) (certDER []byte, key *ecdsa.PrivateKey, err error) {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		tmpl := &x509.Certificate{
			SerialNumber: serial(),
			Subject:      pkix.Name{CommonName: cn},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		}
		if server {
			tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
			tmpl.DNSNames = []string{"localhost"}
		}
		certDER, err = x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		return certDER, key, err
	}
	srvDER, srvKey, err := issue("redis-server", x509.ExtKeyUsageServerAuth, true)
	if err != nil {
		return nil, err
	}
	cliDER, cliKey, err := issue("docket client", x509.ExtKeyUsageClientAuth, false)
	if err != nil {
		return nil, err
	}

	p := &PKI{
		CAFile:   filepath.Join(dir, "ca.crt"),
		CertFile: filepath.Join(dir, "redis.crt"),
		KeyFile:  filepath.Join(dir, "redis.key"),
		RootCAs:  x509.NewCertPool(),
	}
	p.RootCAs.AddCert(ca)
	srvKeyDER, err := x509.MarshalPKCS8PrivateKey(srvKey)
	if err != nil {
		return nil, err
	}
	for _, f := range []struct {
		path, kind string
		der        []byte
	}{
		{p.CAFile, "CERTIFICATE", caDER},
		{p.CertFile, "CERTIFICATE", srvDER},
		{p.KeyFile, "PRIVATE KEY", srvKeyDER},
	} {
		if err := os.WriteFile(f.path, pem.EncodeToMemory(&pem.Block{Type: f.kind, Bytes: f.der}), 0o600); err != nil {
			return nil, err
		}
	}
	p.ClientCert = tls.Certificate{Certificate: [][]byte{cliDER}, PrivateKey: cliKey}
	return p, nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return n
}

// ClientTLS is a client configuration that trusts the PKI's CA, and, with
// withCert, presents its client certificate.
func (p *PKI) ClientTLS(withCert bool) *tls.Config {
	c := &tls.Config{RootCAs: p.RootCAs, MinVersion: tls.VersionTLS12}
	if withCert {
		c.Certificates = []tls.Certificate{p.ClientCert}
	}
	return c
}

// TLSServer is a redis-server of this test that speaks only TLS (no plain
// port), with a certificate from a PKI made for the test.
type TLSServer struct {
	Addr string
	PKI  *PKI
	cmd  *exec.Cmd
}

// NewTLSServer starts a TLS-only redis-server, and stops it when the test
// ends. With clientCerts the server requires a client certificate signed
// by the CA (--tls-auth-clients yes); otherwise it asks for none. A
// redis-server built without TLS skips the test, or fails it with
// DOCKET_REQUIRE_REDIS=1.
func NewTLSServer(t testing.TB, clientCerts bool) *TLSServer {
	t.Helper()
	bin := findServer(t)
	dir := t.TempDir()
	s := &TLSServer{PKI: NewPKI(t, dir)}
	port := freePort(t)
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	auth := "no"
	if clientCerts {
		auth = "yes"
	}
	logPath := filepath.Join(dir, "redis.log")
	out, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	s.cmd = exec.Command(bin,
		"--port", "0", "--tls-port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--tls-cert-file", s.PKI.CertFile, "--tls-key-file", s.PKI.KeyFile,
		"--tls-ca-cert-file", s.PKI.CAFile, "--tls-auth-clients", auth,
		"--dir", dir, "--save", "", "--appendonly", "no",
		"--daemonize", "no", "--loglevel", "warning")
	s.cmd.SysProcAttr = childAttr()
	s.cmd.Stdout, s.cmd.Stderr = out, out
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	_ = out.Close()
	exited := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = s.cmd.Process.Kill()
		<-exited
	})
	if err := s.waitReady(exited, logPath); err != nil {
		log, _ := os.ReadFile(logPath)
		if strings.Contains(string(log), "tls-port") && strings.Contains(string(log), "Bad directive") {
			if os.Getenv(RequireEnv) == "1" {
				t.Fatalf("redis-server was built without TLS and %s=1:\n%s", RequireEnv, log)
			}
			t.Skipf("redis-server was built without TLS:\n%s", log)
		}
		t.Fatal(err)
	}
	return s
}

// URL is the server's rediss:// URL. The URL cannot name the CA: see the
// TLS tests in package sdk for the ways to trust it.
func (s *TLSServer) URL() string { return "rediss://" + s.Addr + "/0" }

// waitReady waits until the server answers PING over TLS, or exits.
func (s *TLSServer) waitReady(exited <-chan struct{}, logPath string) error {
	deadline := time.Now().Add(10 * time.Second)
	conf := s.PKI.ClientTLS(true)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			log, _ := os.ReadFile(logPath)
			return fmt.Errorf("redis-server exited; its log:\n%s", log)
		default:
		}
		d := &net.Dialer{Timeout: 200 * time.Millisecond}
		c, err := tls.DialWithDialer(d, "tcp", s.Addr, conf)
		if err == nil {
			_ = c.SetDeadline(time.Now().Add(time.Second))
			_, _ = c.Write([]byte("PING\r\n"))
			line, _ := bufio.NewReader(c).ReadString('\n')
			_ = c.Close()
			if strings.HasPrefix(line, "+PONG") {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond) // waiting for a real process to start
	}
	log, _ := os.ReadFile(logPath)
	return fmt.Errorf("redis-server on %s did not answer over TLS within 10s; its log:\n%s", s.Addr, log)
}
