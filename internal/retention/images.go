package retention

import (
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/distribution/reference"
)

// Image is a deployed image of this registry, as a deployment names it:
// the policy keeps it, whatever its rules say.
type Image struct {
	Reference  string // as given, for reasons and warnings
	Repository string
	Tag        string // "" when the reference has none
	Digest     string // "" when the reference has none
}

// Hosts are the names of one registry as image references write them,
// compared as Docker and containerd resolve them: host names without regard
// to case; a name without a port and the same name with the default port of
// the registry's scheme (443 for https, 80 for http) are one; localhost,
// 127.0.0.1 and ::1 are one loopback host (ports must still match). Each
// name is kept in every spelling of its port (with and without the default
// one); a nil Hosts names nothing.
type Hosts map[string]bool

// NewHosts returns the names of the registry at scheme://host and its
// aliases (host[:port] by which deployments pull from it: a load balancer's
// name, a DNS alias). A name without a port stands for the default port of
// scheme, as image references name an http registry on port 80 by its bare
// host; without a scheme (a provider with no url), for 443, where container
// runtimes pull by default.
func NewHosts(scheme, host string, aliases []string) Hosts {
	defaultPort := "443"
	if scheme == "http" {
		defaultPort = "80"
	}
	hosts := Hosts{}
	add := func(host string) {
		name, port := canonicalHost(host)
		if port == "" || port == defaultPort {
			hosts[name] = true
			hosts[name+":"+defaultPort] = true
			return
		}
		hosts[name+":"+port] = true
	}
	if host != "" {
		add(host)
	}
	for _, a := range aliases {
		add(a)
	}
	return hosts
}

// Names reports whether host (host[:port], as an image reference writes
// it) is one of the registry's names.
func (h Hosts) Names(host string) bool {
	name, port := canonicalHost(host)
	if port != "" {
		name += ":" + port
	}
	return h[name]
}

// Empty reports whether no name is known: no url and no alias.
func (h Hosts) Empty() bool { return len(h) == 0 }

// canonicalHost splits host[:port] into its name, as compared (lower case,
// index.docker.io as docker.io, one spelling of each IP address and one of
// the loopback host), and its port ("" when it has none).
func canonicalHost(host string) (name, port string) {
	host = strings.ToLower(strings.TrimSpace(host))
	if host == "index.docker.io" { // as the reference grammar normalises it
		host = "docker.io"
	}
	name, port, err := net.SplitHostPort(host)
	if err != nil { // no port, or a bare IPv6 address ("::1")
		name, port = host, ""
	}
	name = strings.TrimSuffix(strings.TrimPrefix(name, "["), "]")
	if ip := net.ParseIP(name); ip != nil {
		name = ip.String()
		if ip.To4() == nil {
			name = "[" + name + "]"
		}
	}
	switch name {
	case "localhost", "127.0.0.1", "[::1]":
		name = "localhost"
	}
	return name, port
}

// kubernetesPrefixes are what a Kubernetes pod's status.containerStatuses
// imageID may start with under the Docker runtimes.
var kubernetesPrefixes = []string{"docker-pullable://", "docker://"}

// ParseImages sorts image references ("host[:port]/repo:tag",
// "host/repo@sha256:...", "host/repo:tag@sha256:...") into those of this
// registry and the number of others. A reference names this registry when
// its host is one of hosts; one without a host is Docker Hub's
// (docker.io/library/...), as every runtime reads it, and so is this
// registry's only when hosts include docker.io (a Docker Hub mirror). A
// bare image ID ("sha256:..."), as Kubernetes reports for images built on
// the node, names no registry. Anything else that is not a reference is an
// error naming it.
func ParseImages(refs []string, hosts Hosts) (mine []Image, others int, err error) {
	for _, ref := range refs {
		image, ours, err := parseImage(ref, hosts)
		switch {
		case err != nil:
			return nil, 0, err
		case ours:
			mine = append(mine, image)
		default:
			others++
		}
	}
	return mine, others, nil
}

// ForeignHosts returns the hosts (lower case, sorted, each once) of the
// references that do not name this registry; bare image IDs name none and
// are not counted. An error names the first string that is no reference.
func ForeignHosts(refs []string, hosts Hosts) ([]string, error) {
	var foreign []string
	for _, ref := range refs {
		host, ok, err := referenceHost(ref)
		if err != nil {
			return nil, err
		}
		if ok && !hosts.Names(host) && !slices.Contains(foreign, strings.ToLower(host)) {
			foreign = append(foreign, strings.ToLower(host))
		}
	}
	slices.Sort(foreign)
	return foreign, nil
}

// referenceHost returns the host a reference names, false for a bare image
// ID.
func referenceHost(ref string) (string, bool, error) {
	named, err := parseNamed(ref)
	if err != nil || named == nil {
		return "", false, err
	}
	return reference.Domain(named), true, nil
}

// parseNamed parses a reference as Docker does (host-less ones are Docker
// Hub's), after the prefixes Kubernetes adds; nil for a bare image ID.
func parseNamed(ref string) (reference.Named, error) {
	s := strings.TrimSpace(ref)
	for _, p := range kubernetesPrefixes {
		s = strings.TrimPrefix(s, p)
	}
	if isImageID(s) {
		return nil, nil
	}
	named, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not an image reference (host[:port]/repository[:tag][@sha256:digest]): %w", ref, err)
	}
	return named, nil
}

func parseImage(ref string, hosts Hosts) (Image, bool, error) {
	named, err := parseNamed(ref)
	if err != nil || named == nil {
		return Image{}, false, err
	}
	if !hosts.Names(reference.Domain(named)) {
		return Image{}, false, nil
	}
	named = reference.TagNameOnly(named) // no tag and no digest: runtimes pull latest
	image := Image{Reference: ref, Repository: reference.Path(named)}
	if tagged, ok := named.(reference.Tagged); ok {
		image.Tag = tagged.Tag()
	}
	if digested, ok := named.(reference.Digested); ok {
		image.Digest = digested.Digest().String()
	}
	return image, true, nil
}

// isImageID reports whether s is an image ID ("sha256:<hex>" or 64 hex
// digits), which names no repository.
func isImageID(s string) bool {
	r, err := reference.ParseAnyReference(s)
	if err != nil {
		return false
	}
	_, named := r.(reference.Named)
	return !named
}

// deployedTags returns the tags that deployed images keep, each with the
// references that keep it, and the digests of repo the images pin, each
// with the references that pin it. A tag reference keeps its tag. A digest
// reference keeps every tag on the digest and on every tagged index that
// lists it, however deep: a pod's imageID often names the platform manifest
// its node pulled from an index. What a pinned digest reaches stays
// (Pinned), tagged or not.
func deployedTags(repo Repository, tags []Tag, images []Image) (deployed, pins map[string][]string) {
	deployed, pins = map[string][]string{}, map[string][]string{}
	var users map[string][]string
	for _, image := range images {
		if image.Repository != repo.Name {
			continue
		}
		if image.Tag != "" {
			deployed[image.Tag] = appendNew(deployed[image.Tag], image.Reference)
			if digest, ok := referrerDigest(repo, image.Tag); ok {
				pins[digest] = appendNew(pins[digest], image.Reference) // a referrer tag follows no rule: its digest is kept
			}
		}
		if image.Digest == "" {
			continue
		}
		pins[image.Digest] = appendNew(pins[image.Digest], image.Reference)
		if users == nil {
			users = tagsUsing(repo, tags)
		}
		for _, name := range users[image.Digest] {
			deployed[name] = appendNew(deployed[name], image.Reference)
		}
	}
	return deployed, pins
}

// referrerDigest returns the digest of a referrer tag of repo.
func referrerDigest(repo Repository, tag string) (string, bool) {
	if !IsReferrerTag(tag) {
		return "", false
	}
	for _, t := range repo.Tags {
		if t.Name == tag {
			return t.Digest, true
		}
	}
	return "", false
}

// tagsUsing maps every digest that a tag reaches through index children to
// those tags.
func tagsUsing(repo Repository, tags []Tag) map[string][]string {
	children := Links{Children: repo.Children}
	users := map[string][]string{}
	for _, t := range tags {
		for digest := range children.Reach(t.Digest) {
			users[digest] = append(users[digest], t.Name)
		}
	}
	return users
}

// sparedByDigest groups the tags that deployed images keep from the delete
// rules by digest.
func sparedByDigest(repository string, tags []Tag, spared map[string]int, deployed map[string][]string, rules []DeleteRule) []Spared {
	byDigest := map[string]*Spared{}
	refs, used := map[string][]string{}, map[string][]int{}
	for _, t := range tags {
		i, ok := spared[t.Name]
		if !ok {
			continue
		}
		s := byDigest[t.Digest]
		if s == nil {
			s = &Spared{Repository: repository, Digest: t.Digest}
			byDigest[t.Digest] = s
		}
		s.Tags = append(s.Tags, t.Name)
		for _, ref := range deployed[t.Name] {
			refs[t.Digest] = appendNew(refs[t.Digest], ref)
		}
		if !slices.Contains(used[t.Digest], i) {
			used[t.Digest] = append(used[t.Digest], i)
		}
	}
	out := make([]Spared, 0, len(byDigest))
	for _, digest := range sortedKeys(byDigest) {
		s := byDigest[digest]
		slices.Sort(s.Tags)
		slices.Sort(refs[digest])
		s.Reason = "deployed as " + strings.Join(refs[digest], ", ") + "; matched by " + describeRules(rules, used[digest])
		out = append(out, *s)
	}
	return out
}

// ValidateHost checks an alias: a registry host, with a port or not.
func ValidateHost(host string) error {
	if ip := net.ParseIP(host); ip != nil && strings.Contains(host, ":") {
		return nil // a bare IPv6 address, such as ::1
	}
	named, err := reference.ParseNormalizedNamed(host + "/x")
	if err != nil || reference.Domain(named) != host || strings.Contains(host, "/") {
		return fmt.Errorf("%q is not a registry host: write host or host:port, such as registry.example.com or 10.0.0.5:5000", host)
	}
	return nil
}
