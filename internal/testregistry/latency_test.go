package testregistry

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

const testRTT = 30 * time.Millisecond

func proxyGet(t *testing.T, url string) time.Duration {
	t.Helper()
	start := time.Now()
	resp, err := http.Get(url)
	if err != nil {
		t.Error(err)
		return 0
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s: %s", url, resp.Status)
	}
	return time.Since(start)
}

func TestLatencyProxyDelaysEachRequestByRTT(t *testing.T) {
	r := Start(t)
	proxy := StartLatencyProxy(t, r.URL, testRTT)
	for range 3 {
		if took := proxyGet(t, proxy+"/v2/"); took < testRTT {
			t.Errorf("GET /v2/ through a %s proxy took %s", testRTT, took)
		}
	}
}

func TestLatencyProxyDoesNotSerialiseRequests(t *testing.T) {
	r := Start(t)
	proxy := StartLatencyProxy(t, r.URL, testRTT)
	proxyGet(t, proxy+"/v2/") // a first connection, before the clock starts
	const n = 8
	var wg sync.WaitGroup
	start := time.Now()
	for range n {
		wg.Add(1)
		go func() { defer wg.Done(); proxyGet(t, proxy+"/v2/") }()
	}
	wg.Wait()
	// Serialised they would take n*rtt (240ms); each waiting out its own,
	// about rtt. 4*rtt leaves room for a busy machine.
	if took := time.Since(start); took < testRTT || took > 4*testRTT {
		t.Errorf("%d concurrent requests through a %s proxy took %s, want about %s", n, testRTT, took, testRTT)
	}
}

func TestLatencyProxyPassesPushesPagingAndUploads(t *testing.T) {
	r := Start(t)
	proxy := StartLatencyProxy(t, r.URL, testRTT)
	host := strings.TrimPrefix(proxy, "http://")

	// A push streams the layers through upload sessions whose Location
	// the registry makes absolute: they must come back to the proxy.
	img, err := random.Image(1<<20, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.NewTag(host+"/team/app:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatalf("push through the proxy: %v", err)
	}
	assertTags(t, r, "team/app", "v1")
	got, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	if d, _ := got.Digest(); d != want {
		t.Errorf("pulled %s through the proxy, pushed %s", d, want)
	}

	resp, err := http.Post(proxy+"/v2/team/app/blobs/uploads/", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, proxy+"/") {
		t.Errorf("upload Location %q does not go through the proxy %s", loc, proxy)
	}

	// Every page of a tag list, by the Link header.
	if _, err := r.SeedTags("team/many", 5, func(i int) string { return "t" + string(rune('a'+i)) }, func(int) time.Time { return time.Now() }); err != nil {
		t.Fatal(err)
	}
	repo, err := name.NewRepository(host+"/team/many", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	tags, err := remote.List(repo, remote.WithPageSize(2))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"ta", "tb", "tc", "td", "te"}; !slices.Equal(tags, want) {
		t.Errorf("tags through the proxy, 2 a page: %v, want %v", tags, want)
	}
}

func TestLatencyProxyKeepsTokenAuthBehindIt(t *testing.T) {
	r := Start(t, WithTokenAuth("ci", "secret"))
	proxy := StartLatencyProxy(t, r.URL, testRTT)
	resp, err := http.Get(proxy + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if challenge := resp.Header.Get("WWW-Authenticate"); !strings.Contains(challenge, `realm="`+proxy+"/") {
		t.Errorf("challenge %q does not send the client to the proxy %s", challenge, proxy)
	}
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.NewTag(strings.TrimPrefix(proxy, "http://")+"/app:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: "ci", Password: "secret"})); err != nil {
		t.Fatalf("push with token auth through the proxy: %v", err)
	}
	assertTags(t, r, "app", "v1")
}

func TestLatencyProxyStops(t *testing.T) {
	r := Start(t)
	proxy, stop, err := NewLatencyProxy(r.URL, testRTT)
	if err != nil {
		t.Fatal(err)
	}
	proxyGet(t, proxy+"/v2/")
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if resp, err := http.Get(proxy + "/v2/"); err == nil {
		resp.Body.Close()
		t.Fatalf("the proxy still answers after stop: %s", resp.Status)
	}
	if _, _, err := NewLatencyProxy("https://"+r.Host, testRTT); err == nil {
		t.Error("an https target was accepted")
	}
}
