package docker

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// App is what zdplay reads of a user's compose file about the service it
// replicates: the rest of the file it keeps as written.
type App struct {
	File    string // the user's compose file, absolute
	Project string // its project name: the file's name:, else its directory's
	Service string
	// Image is the service's image without its tag; Tag is the tag ("" =
	// latest).
	Image, Tag string
	// Replicas is the service's deploy.replicas (or scale), 0 when unset.
	Replicas int
	// Port is the one port the service listens on inside its container
	// (its only expose or ports target), 0 when it has none or several.
	Port int
	// HostPorts are the service's published ports, which the proxy takes
	// over ("8080:3000").
	HostPorts []string
	// Update is the service's deploy.update_config, nil when unset.
	Update *types.UpdateConfig
	// Others are the other services, sorted.
	Others []string
}

// LoadApp loads a user's compose file with compose-go (interpolation, .env,
// extends and includes as Compose does) and checks that service can be
// replicated behind zdplay's proxy. env are values for the file's ${NAME}
// interpolation, over the environment and .env. The file is never written.
func LoadApp(ctx context.Context, file, project, service string, env map[string]string) (*types.Project, App, error) {
	p, err := loadProject(ctx, file, nil, project, env)
	if err != nil {
		if strings.Contains(err.Error(), "container_name") {
			err = fmt.Errorf("%w; zdplay replicates service %s itself (%s_1, %s_2 and so on): remove its container_name (deploy.replicas stays the default replica count)", err, service, service, service)
		}
		return nil, App{}, err
	}
	app := App{File: p.ComposeFiles[0], Project: p.Name, Service: service}
	svc, ok := p.Services[service]
	if !ok {
		return nil, app, fmt.Errorf("compose file %s has no service %q (its services: %s): set -e service=NAME", file, service, strings.Join(p.ServiceNames(), ", "))
	}
	if svc.ContainerName != "" {
		return nil, app, fmt.Errorf("service %s of %s sets container_name: %q, so it cannot be replicated (every replica would take that name); remove container_name from the service, zdplay names its replicas %s_1, %s_2 and so on", service, file, svc.ContainerName, service, service)
	}
	if svc.Image == "" {
		return nil, app, fmt.Errorf("service %s of %s has no image: zdplay rolls a service from one image tag to another; give it image: NAME:TAG (build it first, zdplay never pulls nor builds)", service, file)
	}
	if strings.Contains(svc.Image, "@") {
		return nil, app, fmt.Errorf("service %s of %s names its image by digest (%s): zdplay changes the tag; use image: NAME:TAG", service, file, svc.Image)
	}
	if _, taken := p.Services["proxy"]; taken {
		return nil, app, fmt.Errorf("compose file %s has a service named proxy: zdplay's proxy takes that name; rename yours", file)
	}
	app.Image, app.Tag = splitTag(svc.Image)
	if svc.Deploy != nil {
		if svc.Deploy.Replicas != nil {
			app.Replicas = *svc.Deploy.Replicas
		}
		app.Update = svc.Deploy.UpdateConfig
	}
	if app.Replicas == 0 && svc.Scale != nil {
		app.Replicas = *svc.Scale
	}
	ports := map[int]bool{}
	for _, e := range svc.Expose {
		if n, err := strconv.Atoi(strings.Split(e, "/")[0]); err == nil {
			ports[n] = true
		}
	}
	for _, pc := range svc.Ports {
		ports[int(pc.Target)] = true
		if pc.Published != "" {
			app.HostPorts = append(app.HostPorts, fmt.Sprintf("%s:%d", pc.Published, pc.Target))
		}
	}
	if len(ports) == 1 {
		for n := range ports {
			app.Port = n
		}
	}
	for _, name := range p.ServiceNames() {
		if name != service {
			app.Others = append(app.Others, name)
		}
	}
	return p, app, nil
}

// splitTag splits "registry:5000/repo:tag" into the repository and the tag.
func splitTag(image string) (string, string) {
	i := strings.LastIndex(image, ":")
	if i < 0 || strings.Contains(image[i:], "/") {
		return image, ""
	}
	return image[:i], image[i+1:]
}

// Stack is how LoadApp's project becomes the stack zdplay runs.
type Stack struct {
	// Replicas are the services the app's service becomes (web_1,
	// web_2...): copies of it at Version, without its host ports.
	Replicas []string
	Version  string // the replicas' image tag ("" = the file's)
	// ProxyImage, ProxyPort (on 127.0.0.1) and ProxyDir (the proxy's host
	// directory) make the proxy service: nginx with ProxyDir as its conf.d;
	// with Haproxy, HAProxy with ProxyDir as /etc/haproxy and ProxyDir/run
	// as /run/haproxy (the runtime API's sockets, which zdplay uses from
	// the host), as docker compose would run them.
	Haproxy    bool
	ProxyImage string
	ProxyPort  int
	ProxyDir   string
	// Migrate, when set, adds a service SERVICE_migrate: a copy of the
	// service at Version running this command once (compose_run).
	Migrate []string
}

// MigrateService is the name of the migration service of app's service.
func MigrateService(service string) string { return service + "_migrate" }

var serviceName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// RenderStack writes the stack as compose YAML: every other service,
// volume, network, secret, config and extension of the user's file as
// compose-go loaded it (paths absolute, so the file works from any
// directory), the app's service as its replicas, and the proxy.
func RenderStack(p *types.Project, app App, s Stack) ([]byte, error) {
	out := *p
	out.Services = types.Services{}
	maps.Copy(out.Services, p.Services)
	svc := p.Services[app.Service]
	delete(out.Services, app.Service)
	image := svc.Image
	if s.Version != "" {
		image = app.Image + ":" + s.Version
	}
	replica := func(name string) types.ServiceConfig {
		r := svc
		r.Name, r.Image, r.Ports, r.Scale, r.CustomLabels = name, image, nil, nil, nil
		if r.Deploy != nil {
			d := *r.Deploy
			d.Replicas = nil
			r.Deploy = &d
		}
		return r
	}
	for _, name := range s.Replicas {
		if !serviceName.MatchString(name) {
			return nil, fmt.Errorf("replica name %q is not a compose service name", name)
		}
		if _, taken := out.Services[name]; taken {
			return nil, fmt.Errorf("replica name %s is also a service of %s: rename that service", name, app.File)
		}
		out.Services[name] = replica(name)
	}
	if len(s.Migrate) > 0 {
		m := replica(MigrateService(app.Service))
		m.Command, m.Restart, m.HealthCheck = types.ShellCommand(s.Migrate), "no", &types.HealthCheckConfig{Disable: true}
		out.Services[m.Name] = m
	}
	// What depended on the service now depends on its replicas.
	for name, o := range out.Services {
		if dep, ok := o.DependsOn[app.Service]; ok {
			deps := types.DependsOnConfig{}
			maps.Copy(deps, o.DependsOn)
			delete(deps, app.Service)
			for _, r := range s.Replicas {
				deps[r] = dep
			}
			o.DependsOn = deps
			out.Services[name] = o
		}
	}
	for name, o := range out.Services {
		o.CustomLabels = nil
		out.Services[name] = o
	}
	networks := map[string]*types.ServiceNetworkConfig{}
	for n := range svc.Networks {
		networks[n] = nil
	}
	proxy := types.ServiceConfig{Name: "proxy", Restart: types.RestartPolicyUnlessStopped}
	proxy.Image, proxy.PullPolicy = s.ProxyImage, types.PullPolicyNever
	proxy.Ports = []types.ServicePortConfig{{HostIP: "127.0.0.1", Published: strconv.Itoa(s.ProxyPort), Target: 80, Protocol: "tcp", Mode: "ingress"}}
	bind := func(source, target string, ro bool) types.ServiceVolumeConfig {
		return types.ServiceVolumeConfig{Type: types.VolumeTypeBind, Source: source, Target: target, ReadOnly: ro, Bind: &types.ServiceVolumeBind{CreateHostPath: true}}
	}
	proxy.Volumes = []types.ServiceVolumeConfig{bind(s.ProxyDir, "/etc/nginx/conf.d", true)}
	if s.Haproxy {
		proxy.Volumes = []types.ServiceVolumeConfig{bind(s.ProxyDir, "/etc/haproxy", true), bind(s.ProxyDir+"/run", "/run/haproxy", false)}
	}
	proxy.Networks = networks
	out.Services["proxy"] = proxy
	// Services behind a profile that is not active stay in the file, as
	// the user wrote them.
	for name, d := range p.DisabledServices {
		if _, ok := out.Services[name]; !ok {
			d.CustomLabels = nil
			out.Services[name] = d
		}
	}
	out.ComposeFiles, out.DisabledServices = nil, nil
	b, err := out.MarshalYAML()
	if err != nil {
		return nil, fmt.Errorf("rendering the stack of %s: %w", app.File, err)
	}
	header := fmt.Sprintf("# Rendered by zdplay from %s (never modified): do not edit, the next run overwrites it.\n# Service %s runs as %s behind the proxy.\n",
		app.File, app.Service, strings.Join(s.Replicas, ", "))
	return append([]byte(header), b...), nil
}
