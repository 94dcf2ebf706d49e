package redisconn

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// ErrCA: the CA file for rediss:// cannot be used.
var ErrCA = errors.New("invalid Redis CA file")

// URLOptions configure OpenURL beyond what the URL says.
type URLOptions struct {
	PoolSize int    // connection pool size; 0: go-redis' default
	CAFile   string // PEM CA certificates trusted for rediss:// besides the system's (a private CA); ignored for other schemes
}

// OpenURL is Open with options: a CA to trust for rediss://, and the
// URL's user name, which asynq's URL parser drops (redis://user:pw@host
// then authenticates as that ACL user, not as "default"). TLS is 1.2 or
// later, and verifies the server's certificate and name.
func OpenURL(rawURL string, o URLOptions) (redis.UniversalClient, error) {
	opt, err := ConnOpt(rawURL, o.PoolSize)
	if err != nil {
		return nil, err
	}
	if co, ok := opt.(asynq.RedisClientOpt); ok {
		if u, err := url.Parse(rawURL); err == nil && u.User != nil {
			co.Username = u.User.Username()
		}
		if co.TLSConfig != nil {
			cfg := co.TLSConfig.Clone()
			cfg.MinVersion = tls.VersionTLS12
			if o.CAFile != "" {
				pool, err := caPool(o.CAFile)
				if err != nil {
					return nil, err
				}
				cfg.RootCAs = pool
			}
			co.TLSConfig = cfg
		}
		opt = co
	}
	return client(opt, rawURL)
}

// caPool is the system's CA pool with the file's certificates added.
func caPool(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCA, err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%w %s: no PEM certificate in it", ErrCA, file)
	}
	return pool, nil
}
