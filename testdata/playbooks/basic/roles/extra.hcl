# A role from roles/NAME.hcl: its body is a role body.
tags = ["extra"]

task "command" "marker" {
  argv    = ["touch", "marker"]
  chdir   = var.dir
  creates = "${var.dir}/marker"
}

task "command" "never by default" {
  tags = ["never", "debug"]
  argv = ["false"]
}
