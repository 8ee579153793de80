package gc

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/distribution/distribution/v3/configuration"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/factory"
	"go.yaml.in/yaml/v2"

	// The drivers a registry's config.yml can name.
	_ "github.com/distribution/distribution/v3/registry/storage/driver/azure"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/gcs"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/s3-aws"
)

// Drivers are the storage driver names accepted, as in config.yml.
// (Not inmemory: that driver's data lives inside the registry process,
// where garbage collection from outside can never reach it.)
var Drivers = []string{"filesystem", "s3", "gcs", "azure"}

// Storage names a registry's storage backend: a driver and its
// parameters, exactly as under `storage:` in the registry's config.yml.
type Storage struct {
	Driver     string
	Parameters map[string]any
}

// NestParameters turns flat parameters, where a dotted key names a nested
// one ("credentials.type" for credentials: {type: ...}), into what a
// config.yml section decodes to: nested sections are map[any]any, the
// YAML decoder's type, which the gcs driver insists on. Terraform maps of
// strings cannot nest, and the azure and gcs drivers take their
// credentials nested.
func NestParameters(flat map[string]string) (map[string]any, error) {
	root := map[any]any{}
	// Sorted, "a" comes before "a.b": a value is always set before a
	// section that would overwrite it, and the section finds it.
	for _, key := range slices.Sorted(maps.Keys(flat)) {
		parts := strings.Split(key, ".")
		if slices.Contains(parts, "") {
			return nil, fmt.Errorf("parameter %q: an empty name between dots", key)
		}
		m := root
		for i, part := range parts[:len(parts)-1] {
			section, ok := m[part].(map[any]any)
			if !ok {
				if _, taken := m[part]; taken {
					return nil, fmt.Errorf("parameter %q: %q is also set as a value", key, strings.Join(parts[:i+1], "."))
				}
				section = map[any]any{}
				m[part] = section
			}
			m = section
		}
		m[parts[len(parts)-1]] = flat[key]
	}
	params := make(map[string]any, len(root))
	for name, v := range root {
		params[name.(string)] = v
	}
	return params, nil
}

// StorageFromConfigFile reads the storage section of a registry's
// config.yml. Only that section is read, and REGISTRY_* environment
// overrides are not applied: this process's REGISTRY_URL, REGISTRY_PASSWORD
// and so on are the provider's own settings, not the registry's.
func StorageFromConfigFile(file string) (Storage, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return Storage{}, fmt.Errorf("cannot read the registry configuration file: %w", err)
	}
	var cfg struct {
		Storage configuration.Storage `yaml:"storage"`
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		return Storage{}, fmt.Errorf("%s is not a registry configuration file: %w", file, err)
	}
	if len(cfg.Storage) == 0 {
		return Storage{}, fmt.Errorf("%s has no storage section: name the storage driver, as in `storage: { filesystem: { rootdirectory: /var/lib/registry } }`", file)
	}
	driver := cfg.Storage.Type()
	if driver == "" {
		return Storage{}, fmt.Errorf("%s: the storage section names no driver (one of %s)", file, strings.Join(Drivers, ", "))
	}
	return Storage{Driver: driver, Parameters: cfg.Storage.Parameters()}, nil
}

// Open creates the storage driver and checks that it holds registry data,
// so that a wrong root directory, bucket or credentials fail before any
// marking, with nothing deleted.
func (s Storage) Open(ctx context.Context) (storagedriver.StorageDriver, error) {
	if !slices.Contains(Drivers, s.Driver) {
		return nil, fmt.Errorf("unknown storage driver %q: use one of %s", s.Driver, strings.Join(Drivers, ", "))
	}
	d, err := createDriver(ctx, s)
	if err != nil {
		return nil, fmt.Errorf("cannot open the %s storage: %w", s.Driver, err)
	}
	if _, err := d.Stat(ctx, repositoriesRoot); err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("no registry data in the %s storage (%s not found): check the storage parameters (root directory, bucket, prefix); garbage collection refuses to run on an empty or missing storage root", s.Driver, describeRoot(s))
		}
		return nil, fmt.Errorf("cannot read the %s storage: %w", s.Driver, err)
	}
	return d, nil
}

// createDriver turns the driver's panics on malformed parameters into
// errors: factories assume the registry validated its configuration.
func createDriver(ctx context.Context, s Storage) (d storagedriver.StorageDriver, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("invalid parameters: %v", p)
		}
	}()
	params := s.Parameters
	if params == nil {
		params = map[string]any{}
	}
	d, err = factory.Create(ctx, s.Driver, params)
	switch {
	case err != nil:
		return nil, err
	case s.Driver == "s3":
		return newS3Storage(d, params)
	case s.Driver == "filesystem":
		return newFSStorage(d, params), nil
	}
	return d, nil
}

// describeRoot names where the data was expected, for error messages.
func describeRoot(s Storage) string {
	var parts []string
	for _, key := range []string{"rootdirectory", "bucket", "container", "accountname"} {
		if v, ok := s.Parameters[key]; ok {
			parts = append(parts, fmt.Sprintf("%s=%v", key, v))
		}
	}
	if len(parts) == 0 {
		return "driver defaults"
	}
	return strings.Join(parts, ", ")
}
