"""The `vigil` command's root: it joins the gateway's commands and the engineers' tooling, which
are installed separately (extras `vigil[gateway]`, `vigil[tooling]`)."""
