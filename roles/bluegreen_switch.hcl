# bluegreen_switch: send every request to the idle colour in one nginx
# reload (proxy_reload returns once the old workers, which finish the
# requests in flight to the old colour, are gone), then record it as the
# live colour. Included by deploy and switchback, with:
#
#   switch_release  the release the idle colour runs

task "template" "nginx conf on the idle colour" {
  src  = "../templates/bluegreen-nginx.conf.tmpl"
  dest = local.conf
  vars = { upstream = local.idle_services, live_colour = local.idle, live_release = local.switch_release }
}
task "proxy_reload" "switch" {
  file    = local.compose
  project = var.project
  conf    = local.conf
}

task "template" "record the live colour" {
  src  = "../templates/bluegreen-value.tmpl"
  dest = local.live_file
  vars = { value = local.idle }
}
task "template" "record the live release" {
  src  = "../templates/bluegreen-value.tmpl"
  dest = "${local.dir}/live-release"
  vars = { value = local.switch_release }
}
