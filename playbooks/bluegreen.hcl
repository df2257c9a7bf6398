# Blue-green (seed 003, issue 5): two colours of the app, blue and green,
# each a set of compose services (blue_1..blue_N, green_1..green_N), the
# same redis db, and a proxy on 127.0.0.1:PORT that serves the live colour
# only. A release goes to the idle colour, beside the live one; once every
# replica of it is healthy, the proxy switches all traffic to it. The old
# colour keeps running, so switching back is one more switch. Roles live in
# ../roles (bluegreen_*.hcl), templates in ../templates.
#
# The switch (roles/bluegreen_switch.hcl), by -e proxy:
#   nginx    (default) one reload of a conf that names the new colour's
#            replicas only; the old workers finish the requests in flight.
#   haproxy  no reload: both colours' replicas sit in the backend's slots,
#            the idle one's in maint; over the runtime API the new colour's
#            go ready, then the old colour's drain and go to maint once
#            their sessions are 0. No client connection is closed.
#
#   zdplay run playbooks/bluegreen.hcl -t provision                     # blue at var.version
#   zdplay run playbooks/bluegreen.hcl -t deploy -e version=0.0.2       # to the idle colour, then switch
#   zdplay run playbooks/bluegreen.hcl -t switchback                    # back to the other colour
#   zdplay run playbooks/bluegreen.hcl -t retire                        # remove the idle colour
#   zdplay run playbooks/bluegreen.hcl -t teardown
#
# State, in files under dir, read back below when the run starts:
#   live-colour           the colour the proxy serves ("blue" or "green"):
#                         written right after the switch to it
#   blue-release,         the release each colour runs (absent: the colour
#   green-release         does not exist); written before the colour is
#                         brought up at it
#   live-release          the live colour's release, for people and scripts
#                         (derived: the playbook reads COLOUR-release)
#
# Every role first takes a lock on DIR/.zdplay.lock: a second run on the same
# deployment is refused at once, naming the run that holds it.

# The deployment's variables (version, replicas per colour, port, project,
# dir, health_timeout, proxy_image), the proxy's (proxy, haproxy_image)
# and the demo app's, with this playbook's defaults.
import = ["deployment.vars.hcl", "proxy.vars.hcl", "demo.vars.hcl"]

defaults = {
  version  = "0.0.1"
  replicas = 2
  project  = "zdplay-bluegreen"
  proxy    = "nginx"
}

variable "drain_timeout" {
  description = "with -e proxy=haproxy: how long a switch waits for the old colour's requests in flight to finish"
  default     = "30s"
}
variable "stop_timeout" {
  description = "retire: how long (seconds) each replica of the idle colour gets to exit on SIGTERM before it is killed"
  type        = number
  default     = 15
}

locals {
  project   = var.project
  dir       = abspath(var.dir != "" ? var.dir : ".zdplay/${local.project}")
  compose   = "${local.dir}/docker-compose.yml"
  lock      = "${local.dir}/.zdplay.lock"
  live_file = "${local.dir}/live-colour"
  # HAProxy's backend holds both colours: templates/haproxy.cfg.tmpl's slots.
  slots        = 2 * var.replicas
  colour_names = ["blue", "green"]
  # The compose services of each colour.
  services = { for c in local.colour_names : c => [for i in range(var.replicas) : "${c}_${i + 1}"] }

  # The recorded state (see above); a fresh dir means blue at var.version.
  live         = fileexists(local.live_file) ? trimspace(file(local.live_file)) : "blue"
  idle         = local.live == "green" ? "blue" : "green"
  idle_record  = "${local.dir}/${local.idle}-release"
  live_record  = "${local.dir}/${local.live}-release"
  live_release = fileexists(local.live_record) ? trimspace(file(local.live_record)) : var.version
  # "" when the idle colour does not exist (never deployed, or retired).
  idle_release = fileexists(local.idle_record) ? trimspace(file(local.idle_record)) : ""

  # lookup: a live-colour file that names no colour fails in each role's
  # first assert (bluegreen_state), saying so, rather than here.
  idle_services = lookup(local.services, local.idle, [])

  # The colours that exist, colour -> release: what the compose file renders
  # when a role does not bring a colour to a new release.
  existing = merge({ (local.live) = local.live_release }, local.idle_release == "" ? {} : { (local.idle) = local.idle_release })
}

play "bluegreen" {
  roles = ["bluegreen_provision", "bluegreen_deploy", "bluegreen_switchback", "bluegreen_retire", "teardown"]
}
