package testregistry

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// childProcess is a docker-registry run by the test process. It is bound
// to the registry's context, dies with the test process where the OS
// allows (see childSysProcAttr), and is reaped by stop.
type childProcess struct {
	cmd    *exec.Cmd
	ctx    context.Context
	cancel context.CancelFunc
	out    *cappedBuffer
	done   chan struct{} // closed once Wait has returned
	err    error         // Wait's result, valid after done
}

func startChild(parent context.Context, bin string, args ...string) (*childProcess, error) {
	ctx, cancel := context.WithCancel(parent)
	cmd := exec.CommandContext(ctx, bin, args...)
	p := &childProcess{cmd: cmd, ctx: ctx, cancel: cancel, out: &cappedBuffer{limit: v28OutputLimit}, done: make(chan struct{})}
	cmd.Env = environWithout("REGISTRY_")
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if os.Getenv("TESTREGISTRY_LOG") != "" {
		cmd.Stdout = io.MultiWriter(p.out, os.Stderr)
		cmd.Stderr = cmd.Stdout
	}
	cmd.SysProcAttr = childSysProcAttr()
	// Cancelling the context (stop, Close, or the caller's context) asks
	// politely first; Wait kills the child if it is still there after
	// v28StopTimeout.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = v28StopTimeout
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, err
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// readiness is how waitReady knows a child server is up: GET url answers
// one of the statuses, within timeout.
type readiness struct {
	url      string
	statuses []int
	timeout  time.Duration
}

// waitReady polls until the child answers as r says.
func (p *childProcess) waitReady(r readiness) error {
	transport := &http.Transport{Proxy: nil, DisableKeepAlives: true}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: time.Second}
	deadline := time.NewTimer(r.timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if r.ping(p.ctx, client) {
			// Someone else's server may hold the port that ours failed
			// to bind: make sure ours is still running.
			select {
			case <-p.done:
				return fmt.Errorf("exited: %v", p.err) //nolint:errorlint // nil after a clean exit: %w would print %!w(<nil>)
			default:
				return nil
			}
		}
		select {
		case <-p.done:
			return fmt.Errorf("exited: %v", p.err) //nolint:errorlint // nil after a clean exit: %w would print %!w(<nil>)
		case <-deadline.C:
			return fmt.Errorf("GET %s did not answer %v within %s", r.url, r.statuses, r.timeout)
		case <-p.ctx.Done():
			return p.ctx.Err()
		case <-tick.C:
		}
	}
}

func (r readiness) ping(ctx context.Context, client *http.Client) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url, nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return slices.Contains(r.statuses, resp.StatusCode)
}

// stop terminates the child (SIGTERM, then SIGKILL after v28StopTimeout)
// and reaps it. A child that exited on its own before being asked to, that
// is, crashed while the test was running, is reported.
func (p *childProcess) stop() error {
	var err error
	select {
	case <-p.done:
		if p.ctx.Err() == nil {
			err = fmt.Errorf("docker-registry exited before Close: %v\n%s", p.err, p.output()) //nolint:errorlint // nil after a clean exit: %w would print %!w(<nil>)
		}
	default:
	}
	p.cancel()
	<-p.done
	return err
}

func (p *childProcess) output() string { return p.out.String() }

// environWithout is the environment minus the variables starting with
// prefix: distribution reads REGISTRY_* variables as configuration
// overrides, and the machine's must not change the test's registry.
func environWithout(prefix string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, prefix) {
			env = append(env, kv)
		}
	}
	return env
}

// freePort finds a port that is free now; the child binds it later.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// cappedBuffer keeps the first limit bytes written to it, safely for
// concurrent use: the child writes while startup errors read.
type cappedBuffer struct {
	mu        sync.Mutex
	buf       bytes.Buffer
	limit     int
	truncated bool
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	room := b.limit - b.buf.Len()
	if len(p) > room {
		b.truncated = true
		b.buf.Write(p[:max(room, 0)])
	} else {
		b.buf.Write(p)
	}
	return len(p), nil
}

func (b *cappedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.truncated {
		return b.buf.String() + "\n[output truncated]"
	}
	return b.buf.String()
}

const (
	// A free port can be taken by someone else between our probe and the
	// child's bind; the child then fails at once and we try another.
	bindAttempts = 3
	// The storage emulators start in a second or two; parallel tests can
	// slow that down a lot.
	emulatorStartTimeout = 60 * time.Second
)

// addrInUse is what Go servers (and so most of ours) say when their port
// was taken.
const addrInUse = "address already in use"

// childServer is a server the tests run as a child process on a free
// loopback port.
type childServer struct {
	name string // in messages
	bin  string
	// inUse are what the child's output says when its port was taken.
	inUse []string
	// launch prepares a start on host:port: the child's arguments, and how
	// to tell that it is up.
	launch func(host, port string) ([]string, readiness, error)
}

// start runs the server on a free port, trying another when it lost its
// own. On failure the child is stopped and its output is part of the error.
func (s childServer) start(ctx context.Context) (*childProcess, error) {
	for attempt := 1; ; attempt++ {
		addr, err := freePort()
		if err != nil {
			return nil, err
		}
		host, port, _ := strings.Cut(addr, ":")
		args, ready, err := s.launch(host, port)
		if err != nil {
			return nil, err
		}
		p, err := startChild(ctx, s.bin, args...)
		if err != nil {
			return nil, err
		}
		if err = p.waitReady(ready); err == nil {
			return p, nil
		}
		_ = p.stop()
		out := p.output()
		lostPort := slices.ContainsFunc(s.inUse, func(said string) bool { return strings.Contains(out, said) })
		if !lostPort || attempt == bindAttempts {
			return nil, fmt.Errorf("%s on %s: %w\n%s", s.name, addr, err, out)
		}
	}
}
