package gc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/aws/credentials"
	"github.com/aws/aws-sdk-go/aws/endpoints"
	"github.com/aws/aws-sdk-go/aws/session"
	"github.com/aws/aws-sdk-go/service/s3"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"golang.org/x/sync/errgroup"
)

// s3Storage is distribution's s3 driver with deletion of exact keys in
// batches. The driver deletes a path by listing the objects under it,
// then deleting those: two requests per path, where a sweep that already
// knows every key (the scan listed them) needs one request per thousand.
type s3Storage struct {
	storagedriver.StorageDriver
	client *s3.S3
	bucket string
	root   string // the driver's rootdirectory
}

// deleteObjectsMax is the most keys S3's DeleteObjects takes at once.
const deleteObjectsMax = 1000

// batchesInFlight bounds parallel DeleteObjects requests: each deletes up
// to a thousand keys, so a few keep a server busy, and AWS throttles a
// prefix above 3,500 deletions a second (503 SlowDown, which the SDK
// retries).
const batchesInFlight = 4

// newS3Storage wraps driver, opened from params, with a client of its
// own for DeleteObjects, configured from the same parameters as the
// driver's (s3-aws/s3.go, New). The driver has validated them already.
// Without v4auth (S3-compatible servers wanting v2 signatures, which only
// the driver's unexported signer speaks) there is no batch: the driver
// deletes alone.
func newS3Storage(driver storagedriver.StorageDriver, params map[string]any) (storagedriver.StorageDriver, error) {
	if !boolParam(params, "v4auth", true) {
		return driver, nil
	}
	config := aws.NewConfig().
		WithRegion(stringParam(params, "region")).
		WithS3ForcePathStyle(boolParam(params, "forcepathstyle", false)).
		WithS3UseAccelerate(boolParam(params, "accelerate", false)).
		WithDisableSSL(!boolParam(params, "secure", true))
	if endpoint := stringParam(params, "regionendpoint"); endpoint != "" {
		config.WithEndpoint(endpoint)
	}
	accessKey, secretKey := stringParam(params, "accesskey"), stringParam(params, "secretkey")
	if accessKey != "" && secretKey != "" { // otherwise the SDK's chain: environment, profile, instance role
		config.WithCredentials(credentials.NewStaticCredentials(accessKey, secretKey, stringParam(params, "sessiontoken")))
	}
	if boolParam(params, "usedualstack", false) {
		config.UseDualStackEndpoint = endpoints.DualStackEndpointStateEnabled
	}
	if boolParam(params, "usefipsendpoint", false) {
		config.UseFIPSEndpoint = endpoints.FIPSEndpointStateEnabled
	}
	if boolParam(params, "skipverify", false) {
		transport := http.DefaultTransport.(*http.Transport).Clone()
		transport.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the registry's own setting
		config.WithHTTPClient(&http.Client{Transport: transport})
	}
	sess, err := session.NewSession(config)
	if err != nil {
		return nil, fmt.Errorf("cannot create the S3 client: %w", err)
	}
	return &s3Storage{StorageDriver: driver, client: s3.New(sess), bucket: stringParam(params, "bucket"), root: stringParam(params, "rootdirectory")}, nil
}

// key is the object key of a storage path, as the driver's s3Path makes it.
func (s *s3Storage) key(path string) string {
	return strings.TrimLeft(strings.TrimRight(s.root, "/")+path, "/")
}

// deleteFiles deletes the objects at files, a thousand per request. A
// key already gone is no error, to S3 as to the sweep.
func (s *s3Storage) deleteFiles(ctx context.Context, files []string, progress func(deleted int)) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(batchesInFlight)
	for start := 0; start < len(files); start += deleteObjectsMax {
		batch := files[start:min(start+deleteObjectsMax, len(files))]
		g.Go(func() error {
			objects := make([]*s3.ObjectIdentifier, len(batch))
			for i, f := range batch {
				objects[i] = &s3.ObjectIdentifier{Key: aws.String(s.key(f))}
			}
			out, err := s.client.DeleteObjectsWithContext(ctx, &s3.DeleteObjectsInput{
				Bucket: aws.String(s.bucket),
				Delete: &s3.Delete{Objects: objects, Quiet: aws.Bool(true)}, // report failures only
			})
			if err != nil {
				return fmt.Errorf("delete %d objects from %s to %s: %w", len(batch), batch[0], batch[len(batch)-1], err)
			}
			if len(out.Errors) > 0 {
				var errs []error
				for _, e := range out.Errors {
					errs = append(errs, fmt.Errorf("delete %s: %s: %s", aws.StringValue(e.Key), aws.StringValue(e.Code), aws.StringValue(e.Message)))
				}
				return errors.Join(errs...)
			}
			progress(len(batch))
			return nil
		})
	}
	return g.Wait()
}

// stringParam and boolParam read a parameter as the driver does: a
// config.yml may give booleans as YAML booleans or strings.
func stringParam(params map[string]any, name string) string {
	if v, ok := params[name]; ok && v != nil {
		return fmt.Sprint(v)
	}
	return ""
}

func boolParam(params map[string]any, name string, fallback bool) bool {
	switch v := params[name].(type) {
	case bool:
		return v
	case string:
		if b, err := strconv.ParseBool(v); err == nil {
			return b
		}
	}
	return fallback
}
