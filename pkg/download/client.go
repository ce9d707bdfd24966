package download

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
)

// Infinite is the Client.Retries value for retrying without end.
const Infinite = -1

// Client fetches and verifies images. The zero value is not usable; set
// at least Keys, or Insecure for unsigned sources.
type Client struct {
	// HTTP is the client for every request; nil means NewHTTPClient().
	HTTP *http.Client
	// Keys are the trusted OpenPGP keys.
	Keys openpgp.EntityList
	// Insecure accepts a source without signature (only one whose
	// signature cannot be fetched: a signature that does not verify
	// always fails).
	Insecure bool
	// Retries is how many times a request is tried again after a
	// transport error or a 408, 429, 500, 502, 503 or 504 status;
	// Infinite retries without end.
	Retries int
	// Backoff is the wait before the first retry, doubled for each
	// further one up to MaxBackoff; zero means 1 s.
	Backoff time.Duration
	// MaxBackoff caps the wait between retries; zero means 10 minutes.
	MaxBackoff time.Duration
	// IdleTimeout ends a transfer that received nothing for that long;
	// zero means 2 minutes.
	IdleTimeout time.Duration
	// Log receives the messages of a download (one line each, no
	// newline), such as a skipped verification; nil drops them.
	Log func(msg string)
	// Progress, when set, is called once per artifact transfer with the
	// file name and the expected size (-1 when unknown); the bytes read
	// are written to the returned writer, which is closed at the end of
	// the transfer. It may return nil.
	Progress func(name string, size int64) io.WriteCloser
}

// NewHTTPClient returns an HTTP client for downloads: proxies from the
// environment (HTTP_PROXY, HTTPS_PROXY, NO_PROXY), timeouts for
// connecting, the TLS handshake and the response headers, and no overall
// timeout (a large image takes long on a slow link; cancel the context
// instead).
func NewHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   30 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          10,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   30 * time.Second,
		ResponseHeaderTimeout: 2 * time.Minute,
		ExpectContinueTimeout: time.Second,
	}}
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return NewHTTPClient()
}

func (c *Client) logf(format string, args ...any) {
	if c.Log != nil {
		c.Log(fmt.Sprintf(format, args...))
	}
}

// idleReader resets an idle timer on every read that returns data.
type idleReader struct {
	r io.Reader
	t *time.Timer
	d time.Duration
}

func (i *idleReader) Read(p []byte) (int, error) {
	n, err := i.r.Read(p)
	if n > 0 {
		i.t.Reset(i.d)
	}
	return n, err
}

// StatusError is a response with a status other than 200.
type StatusError struct {
	URL    string
	Status string
	Code   int
}

func (e *StatusError) Error() string { return e.URL + ": " + e.Status }

// retryable reports whether a status is worth another try: the set that
// curl --retry retries.
func retryable(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusTooManyRequests,
		http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// get GETs url and returns a 200 response, retrying as c.Retries says.
// Any other final status is a *StatusError.
func (c *Client) get(ctx context.Context, url string) (*http.Response, error) {
	wait := c.Backoff
	if wait <= 0 {
		wait = time.Second
	}
	max := c.MaxBackoff
	if max <= 0 {
		max = 10 * time.Minute
	}
	for try := 0; ; try++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return nil, fmt.Errorf("fetching %s: %w", url, err)
		}
		resp, err := c.http().Do(req)
		var again error
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return nil, context.Cause(ctx)
			}
			again = err
		case resp.StatusCode == http.StatusOK:
			return resp, nil
		default:
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			serr := &StatusError{URL: url, Status: resp.Status, Code: resp.StatusCode}
			if !retryable(resp.StatusCode) {
				return nil, serr
			}
			again = serr
		}
		if c.Retries != Infinite && try >= c.Retries {
			if try > 0 {
				return nil, fmt.Errorf("giving up after %d tries: %w", try+1, again)
			}
			return nil, again
		}
		c.logf("Error fetching %s: %v; retrying in %v", url, again, wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, context.Cause(ctx)
		case <-t.C:
		}
		wait = min(2*wait, max)
	}
}

// getSmall GETs a small document (metadata, signature, digests) whole.
func (c *Client) getSmall(ctx context.Context, url string, limit int64) ([]byte, error) {
	resp, err := c.get(ctx, url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", url, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: larger than %d KiB, which is too large for what it should be", url, limit>>10)
	}
	return b, nil
}

// isNotFound reports whether err is a 404 or 410 response.
func isNotFound(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && (se.Code == http.StatusNotFound || se.Code == http.StatusGone)
}
