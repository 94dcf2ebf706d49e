package testredis

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
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

// StartAuth starts a redis-server that requires password (requirepass);
// its URL and Client carry it.
func StartAuth(t testing.TB, password string, extraArgs ...string) *Server {
	t.Helper()
	skipWithoutBinary(t)
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Port: port, Password: password, dir: t.TempDir(),
		args: append([]string{"--requirepass", password}, extraArgs...)}
	return s.startFor(t)
}

// StartTLS starts a redis-server that speaks only TLS on its port, with a
// certificate for 127.0.0.1 and localhost signed by a CA made for the test
// (its PEM in CAFile), requiring password unless it is "". Clients need no
// certificate of their own. Its URL is rediss://, and Client trusts the CA.
// Where redis-server was built without TLS the test is skipped, saying so.
func StartTLS(t testing.TB, password string, extraArgs ...string) *Server {
	t.Helper()
	skipWithoutBinary(t)
	if !tlsBuilt() {
		t.Skip("redis-server was built without TLS support (BUILD_TLS=no): skipping the rediss:// test")
	}
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	caFile, certFile, keyFile, cfg, err := makeCerts(dir)
	if err != nil {
		t.Fatal(err)
	}
	if password != "" {
		extraArgs = append([]string{"--requirepass", password}, extraArgs...)
	}
	s := &Server{Port: port, Password: password, CAFile: caFile, dir: dir, tls: cfg, args: append([]string{
		"--port", "0", "--tls-port", strconv.Itoa(port),
		"--tls-cert-file", certFile, "--tls-key-file", keyFile, "--tls-ca-cert-file", caFile,
		"--tls-auth-clients", "no",
	}, extraArgs...)}
	return s.startFor(t)
}

func skipWithoutBinary(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%v: CI must install it", ErrNoBinary)
		}
		t.Skip(ErrNoBinary)
	}
}

// tlsBuilt reports whether redis-server knows the tls-port option: the
// probe's config stops at its first bad line, the made-up last one when
// tls-port is known.
func tlsBuilt() bool {
	out, _ := exec.Command("redis-server", "--tls-port", "0", "--port", "0", "--reqfleet-probe", "1").CombinedOutput()
	return strings.Contains(string(out), "reqfleet-probe") && !strings.Contains(string(out), ">>> 'tls-port")
}

// makeCerts writes a CA and a server certificate for 127.0.0.1 and
// localhost to dir, and returns their files and a client config trusting
// the CA.
func makeCerts(dir string) (caFile, certFile, keyFile string, cfg *tls.Config, err error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "reqfleet test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return
	}
	caFile, certFile, keyFile = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key")
	for _, f := range []struct {
		path, typ string
		der       []byte
	}{{caFile, "CERTIFICATE", caDER}, {certFile, "CERTIFICATE", der}, {keyFile, "EC PRIVATE KEY", keyDER}} {
		if err = os.WriteFile(f.path, pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der}), 0o600); err != nil {
			return
		}
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	cfg = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	return caFile, certFile, keyFile, cfg, nil
}
