/* JSON string output for the tools' --json modes: the library's writer. */
#include "json_out.h"
#include "util/json.h"

void json_put_string(FILE *out, const char *s)
{
	sk_json_str(out, s);
}
