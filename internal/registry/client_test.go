package registry

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

func newClient(t *testing.T, cfg Config) *Client {
	t.Helper()
	c, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func seedTags(t *testing.T, reg *testregistry.Registry, repo string, n int) []string {
	t.Helper()
	want := make([]string, n)
	for i := range want {
		want[i] = fmt.Sprintf("t%05d", i)
	}
	if _, err := reg.SeedTags(repo, n, func(i int) string { return want[i] }, func(int) time.Time { return time.Time{} }); err != nil {
		t.Fatalf("seeding %s: %v", repo, err)
	}
	return want
}

func TestTagsFollowsEveryPage(t *testing.T) {
	reg := testregistry.Start(t)
	want := seedTags(t, reg, "paged/app", 2500)
	proxy := newFaultProxy(t, reg.URL)
	var pages int
	proxy.setFault(func(_ http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/tags/list") {
			pages++
		}
		return false
	})
	c := newClient(t, Config{URL: proxy.URL})

	got, err := c.Tags(context.Background(), "paged/app")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("got %d tags, want %d", len(got), len(want))
	}
	if pages != 3 {
		t.Fatalf("listed in %d pages, want 3 (distribution serves at most 1000 tags a page)", pages)
	}
}

// Distribution 2.8 ignores n and last and answers with every tag at once,
// without a Link header; the client must take that single page as complete.
func TestTagsFromRegistryIgnoringPaging(t *testing.T) {
	reg := testregistry.Start(t)
	want := seedTags(t, reg, "flat/app", 1500)
	proxy := newFaultProxy(t, reg.URL)
	proxy.setFault(func(_ http.ResponseWriter, r *http.Request) bool {
		r.URL.RawQuery = "" // drop n and last, as 2.8 effectively does
		return false
	})
	c := newClient(t, Config{URL: proxy.URL})

	got, err := c.Tags(context.Background(), "flat/app")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("got %d tags, want %d", len(got), len(want))
	}
}

func TestRepositoriesListsWholeCatalog(t *testing.T) {
	reg := testregistry.Start(t)
	var want []string
	for i := range 3 {
		repo := fmt.Sprintf("cat/repo%d", i)
		if _, err := reg.PushImage(repo, time.Time{}, "latest"); err != nil {
			t.Fatal(err)
		}
		want = append(want, repo)
	}
	got, err := newClient(t, Config{URL: reg.URL}).Repositories(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("catalog = %v, want %v", got, want)
	}
}

func TestRetriesHonourRetryAfter(t *testing.T) {
	reg := testregistry.Start(t)
	seedTags(t, reg, "retry/app", 3)
	proxy := newFaultProxy(t, reg.URL)
	fault, served := failFirst(1, "/tags/list", func(w http.ResponseWriter) {
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	proxy.setFault(fault)
	c := newClient(t, Config{URL: proxy.URL})

	start := time.Now()
	tags, err := c.Tags(context.Background(), "retry/app")
	if err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < time.Second {
		t.Fatalf("retried after %v, want at least the 1s Retry-After", waited)
	}
	if len(tags) != 3 || served.Load() != 1 {
		t.Fatalf("tags=%v, 429s served=%d", tags, served.Load())
	}
}

func TestRetriesTransientFailures(t *testing.T) {
	cases := map[string]func(http.ResponseWriter){
		"503":                func(w http.ResponseWriter) { w.WriteHeader(http.StatusServiceUnavailable) },
		"dropped connection": dropConnection,
	}
	for name, answer := range cases {
		t.Run(name, func(t *testing.T) {
			reg := testregistry.Start(t)
			img, err := reg.PushImage("flaky/app", time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC), "v1")
			if err != nil {
				t.Fatal(err)
			}
			proxy := newFaultProxy(t, reg.URL)
			fault, served := failFirst(2, "/manifests/", answer)
			proxy.setFault(fault)
			c := newClient(t, Config{URL: proxy.URL})

			m, err := c.Describe(context.Background(), "flaky/app", "v1")
			if err != nil {
				t.Fatal(err)
			}
			if m.Digest != img.Digest.String() || served.Load() != 2 {
				t.Fatalf("digest %s (want %s) after %d injected failures", m.Digest, img.Digest, served.Load())
			}
		})
	}
}

func TestRetriesGiveUpWithAPlainMessage(t *testing.T) {
	reg := testregistry.Start(t)
	seedTags(t, reg, "limited/app", 1)
	proxy := newFaultProxy(t, reg.URL)
	fault, served := failFirst(100, "/tags/list", func(w http.ResponseWriter) {
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	proxy.setFault(fault)
	c := newClient(t, Config{URL: proxy.URL, RetryMaxAttempts: 3})

	_, err := c.Tags(context.Background(), "limited/app")
	if KindOf(err) != KindRateLimited || !strings.Contains(err.Error(), "lower max_concurrency") {
		t.Fatalf("err = %v, want a rate-limit explanation", err)
	}
	if served.Load() != 3 {
		t.Fatalf("made %d attempts, want retry_max_attempts = 3", served.Load())
	}
}

func TestConcurrencyIsBounded(t *testing.T) {
	reg := testregistry.Start(t)
	tags := seedTags(t, reg, "wide/app", 60)
	proxy := newFaultProxy(t, reg.URL)
	proxy.setFault(func(http.ResponseWriter, *http.Request) bool {
		time.Sleep(5 * time.Millisecond) // make overlap observable
		return false
	})
	c := newClient(t, Config{URL: proxy.URL, MaxConcurrency: 3})

	if _, err := c.DescribeTags(context.Background(), "wide/app", tags); err != nil {
		t.Fatal(err)
	}
	if got := proxy.maxInFlight(); got != 3 {
		t.Fatalf("max requests in flight = %d, want exactly max_concurrency = 3", got)
	}
}

func TestDescribeImageAndIndex(t *testing.T) {
	reg := testregistry.Start(t)
	created := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	img, err := reg.PushImage("desc/app", created, "v1", "latest")
	if err != nil {
		t.Fatal(err)
	}
	platforms := []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64", Variant: "v8"}}
	idx, children, err := reg.PushIndex("desc/app", platforms, created, "multi")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.PushImage("desc/app", time.Unix(0, 0), "epoch"); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, Config{URL: reg.URL})
	ctx := context.Background()

	got, err := c.DescribeTags(ctx, "desc/app", []string{"v1", "latest", "multi", "epoch"})
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Digest != img.Digest.String() || got[1].Digest != img.Digest.String() || !got[0].Created.Equal(created) {
		t.Fatalf("image: %+v, want digest %s created %s", got[0], img.Digest, created)
	}
	index := got[2]
	if index.Digest != idx.String() || !index.IsIndex() || len(index.Platforms) != 2 {
		t.Fatalf("index: %+v", index)
	}
	if p := index.Platforms[1]; p.Architecture != "arm64" || p.Variant != "v8" || p.Digest != children[1].String() {
		t.Fatalf("second platform: %+v", p)
	}
	if want := created.Add(time.Second); !index.Created.Equal(want) {
		t.Fatalf("index created %s, want its newest child's %s", index.Created, want)
	}
	if !got[3].Created.IsZero() {
		t.Fatalf("epoch image created = %s, want unknown (zero)", got[3].Created)
	}

	head, err := c.Resolve(ctx, "desc/app", "multi")
	if err != nil || head.Digest != idx.String() {
		t.Fatalf("Resolve = %+v, %v", head, err)
	}
}

func TestReferrerSubject(t *testing.T) {
	reg := testregistry.Start(t)
	img, err := reg.PushImage("sig/app", time.Time{}, "v1")
	if err != nil {
		t.Fatal(err)
	}
	sig, err := reg.PushReferrer("sig/app", img.Digest, "sig")
	if err != nil {
		t.Fatal(err)
	}
	m, err := newClient(t, Config{URL: reg.URL}).Describe(context.Background(), "sig/app", sig.String())
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != img.Digest.String() {
		t.Fatalf("subject = %q, want %s", m.Subject, img.Digest)
	}
}

func TestErrorsAreExplained(t *testing.T) {
	reg := testregistry.Start(t, testregistry.WithBasicAuth("ci", "s3cret"))
	if _, err := reg.PushImage("known/app", time.Time{}, "v1"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	good := newClient(t, Config{URL: reg.URL, Username: "ci", Password: "s3cret"})

	_, err := good.Tags(ctx, "unknown/app")
	if !IsNotFound(err) || !strings.Contains(err.Error(), `repository "unknown/app" does not exist`) {
		t.Errorf("unknown repository: %v", err)
	}
	_, err = good.Describe(ctx, "known/app", "missing")
	if !IsNotFound(err) || !strings.Contains(err.Error(), "no such tag or digest") {
		t.Errorf("unknown tag: %v", err)
	}
	_, err = newClient(t, Config{URL: reg.URL, Username: "ci", Password: "wrong"}).Tags(ctx, "known/app")
	if KindOf(err) != KindUnauthorized || !strings.Contains(err.Error(), "rejected the credentials") {
		t.Errorf("wrong password: %v", err)
	}
	_, err = newClient(t, Config{URL: "http://127.0.0.1:1", RetryMaxAttempts: 1}).Tags(ctx, "known/app")
	if KindOf(err) != KindUnavailable || !strings.Contains(err.Error(), "cannot reach the registry") {
		t.Errorf("unreachable: %v", err)
	}
}

func TestTokenAuth(t *testing.T) {
	reg := testregistry.Start(t, testregistry.WithTokenAuth("ci", "s3cret"))
	seedTags(t, reg, "tok/app", 2)
	tags, err := newClient(t, Config{URL: reg.URL, Username: "ci", Password: "s3cret"}).Tags(context.Background(), "tok/app")
	if err != nil || len(tags) != 2 {
		t.Fatalf("tags = %v, %v", tags, err)
	}
	_, err = newClient(t, Config{URL: reg.URL, Username: "ci", Password: "nope"}).Tags(context.Background(), "tok/app")
	if KindOf(err) != KindUnauthorized {
		t.Fatalf("wrong password with token auth: %v", err)
	}
}

func TestParseURL(t *testing.T) {
	for raw, wantErr := range map[string]string{
		"https://registry.example.com":      "",
		"http://127.0.0.1:5000/":            "",
		"registry.example.com":              "must start with https://",
		"https://":                          "has no host",
		"https://u:p@registry.example.com":  "must not carry credentials",
		"https://registry.example.com/v2/x": "must be the registry root",
	} {
		_, err := ParseURL(raw)
		if (wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), wantErr)) {
			t.Errorf("ParseURL(%q) = %v, want error containing %q", raw, err, wantErr)
		}
	}
}

func TestRetryAfterParsing(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for value, want := range map[string]time.Duration{
		"3":                             3 * time.Second,
		"0":                             0,
		"Thu, 01 Jan 2026 00:00:05 GMT": 5 * time.Second,
		"3600":                          maxRetryAfter,
	} {
		got, ok := retryAfter(value, now)
		if !ok || got != want {
			t.Errorf("retryAfter(%q) = %v, %v; want %v", value, got, ok, want)
		}
	}
	if _, ok := retryAfter("soon", now); ok {
		t.Error("retryAfter accepted garbage")
	}
}

func TestForbiddenNamesThePermission(t *testing.T) {
	reg := testregistry.Start(t)
	seedTags(t, reg, "locked/app", 1)
	proxy := newFaultProxy(t, reg.URL)
	proxy.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.Contains(r.URL.Path, "/tags/list") {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}`))
		return true
	})
	_, err := newClient(t, Config{URL: proxy.URL}).Tags(context.Background(), "locked/app")
	if KindOf(err) != KindForbidden || !strings.Contains(err.Error(), `lack "pull" permission on repository "locked/app"`) {
		t.Fatalf("err = %v", err)
	}
}
