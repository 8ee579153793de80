// Command terraform-provider-registry serves the registry provider over the
// Terraform plugin protocol 6.
package main

import (
	"flag"
	"log"
	"os"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6/tf6server"

	"github.com/distreg/terraform-provider-registry/internal/provider"
)

// version is set at build time: -ldflags "-X main.version=1.2.3".
var version = "dev"

func main() {
	var debug bool
	flag.BoolVar(&debug, "debug", false, "run the provider with support for debuggers like delve")
	flag.Parse()
	limitMemory()

	if level, ok := provider.FrameworkLogLevel(os.Getenv); ok {
		if err := os.Setenv(provider.EnvFrameworkLogLevel, level); err != nil {
			log.Fatal(err)
		}
	}

	// The provider's own server (provider.NewServer), not the framework's
	// providerserver.Serve: it keeps large lists out of the framework.
	server, err := provider.NewServer(version)()
	if err != nil {
		log.Fatal(err)
	}
	var opts []tf6server.ServeOpt
	if debug {
		opts = append(opts, tf6server.WithManagedDebug())
	}
	if err := tf6server.Serve(provider.Address, func() tfprotov6.ProviderServer { return server }, opts...); err != nil {
		log.Fatal(err)
	}
}
