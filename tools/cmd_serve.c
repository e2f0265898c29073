/*
 * `scsikit serve`: parse the command line with the daemon's option table
 * and run the daemon (src/daemon/serve.c).
 */
#include <stdio.h>

#include "commands.h"
#include "serve.h"
#include "serve_main.h"

int cmd_serve_main(int argc, char **argv)
{
	static const char prog[] = "scsikit serve";
	struct cli_parser p;
	struct cli_val v;
	struct serve *s;
	int id, rc;

	s = serve_new();
	if (!s) {
		fprintf(stderr, "%s: out of memory\n", prog);
		return CLI_EXIT_FAIL;
	}
	cli_init(&p, prog, argc, argv, 1, NULL, 0);
	cli_add_table(&p, serve_opts);
	while ((id = cli_next(&p, &v)) != CLI_END) {
		if (id == CLI_ERROR) {
			rc = cli_usage_error(prog, "%s (see --help)", p.err);
			goto out_free;
		}
		if (id == SO_HELP) {
			serve_usage(stdout);
			rc = CLI_EXIT_OK;
			goto out_free;
		}
		if (serve_option(s, &v) < 0) {
			rc = CLI_EXIT_USAGE;
			goto out_free;
		}
	}
	return serve_run(s);

out_free:
	serve_free(s);
	return rc;
}
