# teardown: remove the project's containers, network and volumes. Tagged
# never, so it runs only when asked for: -t teardown.
tags = ["never", "teardown"]

task "compose_down" "stack" {
  file    = local.compose
  project = var.project
  volumes = true
}

task "file" "deploy dir" {
  path  = local.dir
  state = "absent"
}
