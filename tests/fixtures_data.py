"""Small GLUE-layout fixture files reproducing the quirks of the real files."""

from __future__ import annotations

from pathlib import Path

BOM = "\ufeff"

FILES: dict[str, str] = {
    # SST-2: sentences end with a space before the tab.
    "SST-2/train.tsv": "sentence\tlabel\nhide new secretions from the parental units \t0\n"
                       "a charming journey \t1\nflat , unfunny \t0\n",
    "SST-2/dev.tsv": "sentence\tlabel\nit 's a charming and often affecting journey . \t1\n"
                     "unflinchingly bleak and desperate \t0\n",
    # MRPC: UTF-8 BOM, odd header, unbalanced quotes (a CSV reader would merge rows).
    "MRPC/train.tsv": BOM + "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
                      '1\t702876\t702977\tAmrozi accused his brother, whom he called "the witness".\t'
                      '"The witness" was accused.\n'
                      '0\t2108705\t2108831\tHe said "no.\tShe said yes.\n'
                      '1\t1\t2\tA plain one.\tA plain two.\n',
    "MRPC/dev.tsv": BOM + "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
                    '1\t1355540\t1355592\tHe said it doesn\'t fit.\t"It does not fit.\n'
                    "0\t2029631\t2029565\tMagnarelli said so.\tHis wife said no.\n",
    "RTE/train.tsv": "index\tsentence1\tsentence2\tlabel\n"
                     '0\tNo "weapons found.\tWeapons found.\tnot_entailment\n'
                     "1\tA place of sorrow.\tA place.\tentailment\n",
    "RTE/dev.tsv": "index\tsentence1\tsentence2\tlabel\n0\tDana died.\tDana had an accident.\tnot_entailment\n",
    "QNLI/train.tsv": "index\tquestion\tsentence\tlabel\n0\tWhen?\tThen.\tentailment\n"
                      '1\tWhat "is it?\tIt is.\tnot_entailment\n',
    "QNLI/dev.tsv": "index\tquestion\tsentence\tlabel\n0\tWho?\tHim.\tentailment\n",
    # QQP: one row separates the label with a space instead of a tab (5 columns).
    "QQP/train.tsv": "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n"
                     "133273\t213221\t213222\tHow is the life of a math student?\t"
                     "Which level of prepration is enough for the exam jlpt5? 0\n"
                     "360472\t364011\t490273\tWhat causes stool color to change?\tWhat can cause it?\t1\n",
    "QQP/dev.tsv": "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n1\t2\t3\tWhy?\tWhy not?\t0\n",
    # MNLI: train has 12 columns, dev 16; the label column is gold_label.
    "MNLI/train.tsv": "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\t"
                      "sentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\tgold_label\n"
                      "0\t31193\t31193n\tgovernment\t( a )\t( b )\t(ROOT a)\t(ROOT b)\t"
                      "Conceptually cream skimming has two dimensions.\tProduct and geography.\tneutral\tneutral\n"
                      "1\t101457\t101457e\ttelephone\t( c )\t( d )\t(ROOT c)\t(ROOT d)\tyou know\tyou do\t"
                      "entailment\tentailment\n",
    "MNLI/dev_matched.tsv": "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\t"
                            "sentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\tlabel2\t"
                            "label3\tlabel4\tlabel5\tgold_label\n"
                            "0\t63735\t63735n\tslate\t( a )\t( b )\t(ROOT a)\t(ROOT b)\tThe new rights are "
                            "nice enough\tEveryone really likes the newest benefits\tneutral\tentailment\t"
                            "neutral\tneutral\tneutral\tneutral\n"
                            "1\t91383\t91383c\tgovernment\t( a )\t( b )\t(ROOT a)\t(ROOT b)\tThis site "
                            "includes a list\tThe articles are not housed\tcontradiction\tcontradiction\t"
                            "contradiction\tcontradiction\tcontradiction\tcontradiction\n",
}


def write_glue(root: Path, files: dict[str, str] | None = None) -> Path:
    for rel, text in (FILES if files is None else files).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
    return root
