package testregistry

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/aws/credentials"
	"github.com/aws/aws-sdk-go/aws/session"
	"github.com/aws/aws-sdk-go/service/s3"
)

// ErrMinIONotInstalled is returned by NewMinIO when no minio binary can be
// found.
var ErrMinIONotInstalled = errors.New("minio is not installed: make test installs it into bin/ (or set MINIO_BIN)")

const (
	minioBinary      = "minio"
	minioBinEnv      = "MINIO_BIN"
	minioRequiredEnv = "MINIO_REQUIRED"

	// A first start formats the drive and initialises IAM: about a second
	// on an idle machine, much more while parallel tests compete for it.
	minioStartTimeout = 60 * time.Second

	// What MinIO says when its port is taken before it binds it; after,
	// it says addrInUse.
	minioPortInUse = "port is already in use"

	// Any region will do for MinIO, but the SDK signs requests with one.
	minioRegion    = "us-east-1"
	minioAccessKey = "testregistry"
)

// MinIO is a MinIO server run as a child process on 127.0.0.1, with its data
// in a temporary directory, as S3 storage for registries (see WithStorage).
type MinIO struct {
	Endpoint  string // "http://127.0.0.1:PORT"
	AccessKey string
	SecretKey string
	// DataDir holds MinIO's drive: bucket/key/xl.meta per object, the
	// content of a small one inline.
	DataDir string

	child  *childProcess
	client *s3.S3

	lifetime // its ctx bounds CreateBucket and the child
}

// StartMinIO starts MinIO for the duration of the test. When the binary is
// missing it skips the test, unless MINIO_REQUIRED=1 is set, in which case
// it fails.
func StartMinIO(t testing.TB) *MinIO {
	t.Helper()
	requireTool(t, minioPath, ErrMinIONotInstalled, minioRequiredEnv)
	return startForTest(t, NewMinIO)
}

// lifetime is what a server run as a child process (MinIO, Azurite,
// fake-gcs-server) holds while it lives: a context bounding the child and
// the requests made to it, and what Close undoes.
type lifetime struct {
	ctx    context.Context
	cancel context.CancelFunc
	cleanups
}

// begin starts the lifetime under parent. Its context is cancelled last on
// Close, not first: the child's stop can then tell a server that died
// during the test from one that Close stopped.
func (l *lifetime) begin(parent context.Context) {
	l.ctx, l.cancel = context.WithCancel(parent)
	l.onClose(func() error { l.cancel(); return nil })
}

// Close stops the server; its data goes with it.
func (l *lifetime) Close() error { return l.run() }

// startForTest starts a server with newServer and closes it when the test
// ends.
func startForTest[S interface{ Close() error }](t testing.TB, newServer func(context.Context) (S, error)) S {
	t.Helper()
	s, err := newServer(context.Background())
	if err != nil {
		t.Fatalf("testregistry: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("testregistry: close: %v", err)
		}
	})
	return s
}

// NewMinIO is StartMinIO outside of a test (benchmarks). The caller must
// Close it.
func NewMinIO(ctx context.Context) (*MinIO, error) {
	return NewMinIOIn(ctx, storageBase())
}

// NewMinIOIn is NewMinIO with its data in a directory under base ("": the
// system's temporary directory): on disk rather than in /dev/shm for
// millions of objects, which take more inodes than a tmpfs has (MinIO
// makes a directory and a file per object).
func NewMinIOIn(ctx context.Context, base string) (_ *MinIO, err error) {
	bin, err := minioPath()
	if err != nil {
		return nil, err
	}
	m := &MinIO{AccessKey: minioAccessKey, SecretKey: nonce()}
	m.begin(ctx)
	defer func() {
		if err != nil {
			_ = m.Close()
		}
	}()
	if err := m.start(bin, base); err != nil {
		return nil, err
	}
	if err := m.configureClient(); err != nil {
		return nil, err
	}
	return m, nil
}

// minioPath finds the binary: $MINIO_BIN, else bin/minio at the repository
// root (where make test installs it), else minio on PATH.
func minioPath() (string, error) {
	return toolPath(minioBinary, minioBinEnv, ErrMinIONotInstalled)
}

// toolPath finds a binary: $env, else bin/<name> at the repository root
// (where make installs tools), else name on PATH. A set but missing $env
// is a broken setup; otherwise notFound says the tool is not installed.
func toolPath(name, env string, notFound error) (string, error) {
	if bin := os.Getenv(env); bin != "" {
		if _, err := os.Stat(bin); err != nil {
			return "", fmt.Errorf("%s: %w", env, err)
		}
		return filepath.Abs(bin)
	}
	if root, err := moduleRoot(); err == nil {
		bin := filepath.Join(root, "bin", name)
		if _, err := os.Stat(bin); err == nil {
			return bin, nil
		}
	}
	if bin, err := exec.LookPath(name); err == nil {
		return filepath.Abs(bin)
	}
	return "", notFound
}

// moduleRoot is the nearest directory at or above the working directory
// that holds go.mod. go test runs in the package's directory, so a path
// relative to the repository root would depend on which package asks.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found")
		}
		dir = parent
	}
}

// start runs minio on free ports, trying others if it could not bind its
// own. The data directory prefers /dev/shm, as the registry's does: MinIO
// writes and fsyncs several files per object.
func (m *MinIO) start(bin, base string) error {
	dataDir, err := m.tempDir(base, "minio")
	if err != nil {
		return err
	}
	m.DataDir = dataDir
	// An empty one of its own, or MinIO would load ~/.minio/certs and
	// serve TLS on a developer's machine.
	certsDir, err := m.tempDir("", "minio-certs")
	if err != nil {
		return err
	}
	// MinIO is configured through its environment, but startChild gives a
	// child the test's own. env(1) sets MinIO's instead and then executes
	// minio in its place, so the process that startChild signals, kills
	// with the test process, and reaps is minio itself.
	envBin, err := exec.LookPath("env")
	if err != nil {
		return fmt.Errorf("minio is run through env(1): %w", err)
	}
	p, err := childServer{name: "minio", bin: envBin, inUse: []string{addrInUse, minioPortInUse},
		launch: func(host, port string) ([]string, readiness, error) {
			m.Endpoint = "http://" + host + ":" + port
			// Unused with the browser off, but without it MinIO would pick
			// a port on every interface.
			console, err := freePort()
			args := append(append([]string{"-i"}, m.environ()...), bin, "server", "--quiet",
				"--address", host+":"+port, "--console-address", console, "--certs-dir", certsDir, dataDir)
			// /minio/health/live would answer 200 as soon as the HTTP
			// server is up, while S3 requests still get 503 until storage
			// and IAM are ready.
			return args, readiness{m.Endpoint + "/minio/health/cluster", []int{http.StatusOK}, minioStartTimeout}, err
		},
	}.start(m.ctx)
	if err != nil {
		return err
	}
	m.child = p
	m.onClose(m.stop)
	return nil
}

// environ is the test's environment with MinIO's settings instead of any
// MINIO_* variables of the machine.
func (m *MinIO) environ() []string {
	return append(environWithout("MINIO_"),
		"MINIO_ROOT_USER="+m.AccessKey,
		"MINIO_ROOT_PASSWORD="+m.SecretKey,
		// No web console to start: nobody browses it.
		"MINIO_BROWSER=off",
		// No update check: tests run offline.
		"MINIO_UPDATE=off",
		// Test sizing: at most 256 MiB of pooled buffers instead of up to
		// 1 GiB, and no refusal to use a directory on the root drive.
		"MINIO_CI_CD=1",
	)
}

// stop stops the child, reporting one that exited before being asked to,
// that is, crashed (or was killed for memory) while the test was running.
// It runs before m.ctx is cancelled, so a cancelled m.ctx means the
// caller's context ended, which asked the child to stop.
func (m *MinIO) stop() error {
	var err error
	select {
	case <-m.child.done:
		if m.ctx.Err() == nil {
			err = fmt.Errorf("minio exited before Close: %v\n%s", m.child.err, m.child.output()) //nolint:errorlint // nil after a clean exit: %w would print %!w(<nil>)
		}
	default:
	}
	// Its own report of an early exit would name docker-registry.
	_ = m.child.stop()
	return err
}

// configureClient prepares the S3 client of CreateBucket, with the SDK that
// distribution's s3 driver uses, so requests are signed as the driver's are.
func (m *MinIO) configureClient() error {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.Proxy = nil
	m.onClose(func() error { transport.CloseIdleConnections(); return nil })
	sess, err := session.NewSession(aws.NewConfig().
		WithCredentials(credentials.NewStaticCredentials(m.AccessKey, m.SecretKey, "")).
		WithEndpoint(m.Endpoint).
		WithRegion(minioRegion).
		WithS3ForcePathStyle(true).
		WithHTTPClient(&http.Client{Transport: transport}))
	if err != nil {
		return err
	}
	m.client = s3.New(sess)
	return nil
}

// CreateBucket creates a bucket. A bucket that already exists is an error.
func (m *MinIO) CreateBucket(name string) error {
	_, err := m.client.CreateBucketWithContext(m.ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
	if err != nil {
		return fmt.Errorf("create bucket %q: %w", name, err)
	}
	return nil
}

// S3Parameters are the parameters of distribution's s3 storage driver
// (registry/storage/driver/s3-aws) for this server, for WithStorage("s3",
// ...) or factory.Create(ctx, "s3", ...). The bucket must exist.
func (m *MinIO) S3Parameters(bucket, rootDirectory string) map[string]any {
	return map[string]any{
		"accesskey": m.AccessKey,
		"secretkey": m.SecretKey,
		// Required even with an endpoint: requests are signed for it.
		"region":         minioRegion,
		"regionendpoint": m.Endpoint,
		"bucket":         bucket,
		"rootdirectory":  rootDirectory,
		// Virtual-host style would address BUCKET.127.0.0.1.
		"forcepathstyle": true,
		// The endpoint's http:// decides already; this says it again.
		"secure": false,
		"v4auth": true,
	}
}

// S3ConfigYAML is S3Parameters as the s3 entry of the storage section of a
// registry's config.yml, indented to go under "storage:". The driver takes
// its booleans as YAML booleans or strings alike.
func (m *MinIO) S3ConfigYAML(bucket, rootDirectory string) string {
	return driverConfigYAML("s3", m.S3Parameters(bucket, rootDirectory))
}

// driverConfigYAML writes a driver's parameters as its entry in the
// storage section of a config.yml, indented to go under "storage:".
func driverConfigYAML(driver string, params map[string]any) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  %s:\n", driver)
	writeYAMLMap(&b, params, "    ")
	return b.String()
}

func writeYAMLMap(b *strings.Builder, params map[string]any, indent string) {
	for _, key := range slices.Sorted(maps.Keys(params)) {
		switch value := params[key].(type) {
		case map[any]any:
			fmt.Fprintf(b, "%s%s:\n", indent, key)
			section := map[string]any{}
			for k, v := range value {
				section[fmt.Sprint(k)] = v
			}
			writeYAMLMap(b, section, indent+"  ")
		case string:
			// Go's quoting is valid YAML double-quoted style here.
			fmt.Fprintf(b, "%s%s: %s\n", indent, key, strconv.Quote(value))
		default:
			fmt.Fprintf(b, "%s%s: %v\n", indent, key, value)
		}
	}
}

// PID is the server's process ID: a benchmark reads what it spends.
func (m *MinIO) PID() int { return m.child.cmd.Process.Pid }
