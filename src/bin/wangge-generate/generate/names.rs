//! Chinese names: real Zhengzhou road names placed near where they really run, plausible alley,
//! shop and organisation names. All names in the data are Chinese; this module is the only place
//! that makes them up.

use super::rng::Rng;

/// Short form of a committee name for labels: "帝湖花园社区居委会" → "帝湖花园社区",
/// "冯湾村委会" → "冯湾村".
pub fn short_community(name: &str) -> String {
    if let Some(k) = name.find("社区") {
        return name[..k + "社区".len()].to_string();
    }
    for suf in ["村民委员会", "村委会", "居民委员会", "居委会"] {
        if let Some(s) = name.strip_suffix(suf) {
            return if suf.starts_with('村') {
                format!("{s}村")
            } else {
                s.to_string()
            };
        }
    }
    name.to_string()
}

/// Real north–south roads: (name, main?, approximate WGS84 longitude).
pub const NS_ROADS: [(&str, bool, f64); 24] = [
    ("大学路", true, 113.664),
    ("京广路", true, 113.645),
    ("嵩山路", true, 113.628),
    ("桐柏路", true, 113.615),
    ("秦岭路", true, 113.580),
    ("西三环", true, 113.563),
    ("须水河路", true, 113.545),
    ("西四环", true, 113.522),
    ("长椿路", true, 113.500),
    ("西五环", true, 113.470),
    ("二七路", false, 113.667),
    ("铭功路", false, 113.652),
    ("兴华街", false, 113.638),
    ("大学南路", false, 113.655),
    ("嵩山南路", false, 113.625),
    ("伏牛路", false, 113.606),
    ("工人路", false, 113.598),
    ("政通路", false, 113.588),
    ("华山路", false, 113.572),
    ("百花路", false, 113.555),
    ("碧云路", false, 113.535),
    ("兴华南街", false, 113.640),
    ("京广南路", false, 113.648),
    ("侯寨路", false, 113.600),
];

/// Real east–west roads: (name, main?, approximate WGS84 latitude).
pub const EW_ROADS: [(&str, bool, f64); 26] = [
    ("科学大道", true, 34.815),
    ("化工路", true, 34.790),
    ("冉屯路", true, 34.775),
    ("建设路", true, 34.762),
    ("中原路", true, 34.749),
    ("陇海路", true, 34.734),
    ("航海路", true, 34.718),
    ("长江路", true, 34.704),
    ("南三环", true, 34.690),
    ("南四环", true, 34.660),
    ("郑密路", true, 34.640),
    ("马寨路", true, 34.620),
    ("莲花街", false, 34.805),
    ("棉纺路", false, 34.768),
    ("解放路", false, 34.756),
    ("人民路", false, 34.752),
    ("汝河路", false, 34.740),
    ("淮河路", false, 34.727),
    ("颍河路", false, 34.722),
    ("伊河路", false, 34.712),
    ("帝湖路", false, 34.697),
    ("政通路", false, 34.745),
    ("侯寨路", false, 34.650),
    ("樱桃沟路", false, 34.630),
    ("须水路", false, 34.780),
    ("石佛路", false, 34.830),
];

/// Made-up but plausible prefixes for roads that no real name was placed on.
const ROAD_PREFIXES: [&str; 24] = [
    "锦绣", "文昌", "建华", "长兴", "梧桐", "枫林", "玉兰", "杏花", "桃源", "永安", "和顺", "福寿",
    "丰收", "民安", "兴业", "祥云", "春华", "瑞达", "凯旋", "友谊", "光明", "幸福", "育才", "金桥",
];

/// A fallback road name, numbered so it never repeats.
pub fn fallback_road(n: usize, north_south: bool) -> String {
    let p = ROAD_PREFIXES[n % ROAD_PREFIXES.len()];
    let round = n / ROAD_PREFIXES.len();
    let suffix = if north_south { "路" } else { "街" };
    if round == 0 {
        format!("{p}{suffix}")
    } else {
        format!(
            "{p}{}{suffix}",
            ["", "东", "西", "南", "北", "中"][round % 6]
        )
    }
}

const ALLEY_PREFIXES: [&str; 40] = [
    "福寿",
    "兴隆",
    "太康",
    "顺城",
    "长春",
    "平安",
    "和平",
    "民主",
    "幸福",
    "光明",
    "裕民",
    "南关",
    "北下",
    "菜园",
    "鼓楼",
    "杜岭",
    "苑陵",
    "乔家门",
    "王家",
    "刘家",
    "李家",
    "张家",
    "马家",
    "孙家",
    "董家",
    "菜市",
    "书院",
    "敦睦",
    "西里",
    "东里",
    "果园",
    "槐树",
    "柳园",
    "铁路",
    "纱厂",
    "粮库",
    "同乐",
    "庆丰",
    "德化",
    "钱塘",
];

/// A plausible alley name (巷/里/胡同), numbered on repeats.
pub fn alley(n: usize) -> String {
    let p = ALLEY_PREFIXES[n % ALLEY_PREFIXES.len()];
    let s = ["巷", "里", "胡同", "街"][(n / ALLEY_PREFIXES.len()) % 4];
    let round = n / (ALLEY_PREFIXES.len() * 4);
    if round == 0 {
        format!("{p}{s}")
    } else {
        format!(
            "{p}{}{s}",
            ["", "二", "三", "四", "五", "六", "七", "八", "九"][round % 9]
        )
    }
}

const SURNAMES: [&str; 24] = [
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "高", "林", "罗", "郑", "梁", "谢", "宋",
];

/// A shop or organisation name for a frontage of `kind` on `road`.
pub fn shop(rng: &mut Rng, kind: &str, road: &str, serial: usize) -> String {
    let sn = *rng.pick(&SURNAMES);
    let short_road = road.strip_suffix('路').unwrap_or(road);
    match kind {
        "restaurant" => match rng.below(4) {
            0 => format!(
                "{}({road}店)",
                rng.pick(&[
                    "老蔡记蒸饺",
                    "合记烩面",
                    "萧记烩面",
                    "方中山胡辣汤",
                    "葛记焖饼",
                    "阿五黄河大鲤鱼",
                    "巴奴毛肚火锅",
                    "四厢奶奶",
                    "蜜雪冰城",
                    "马豫兴桶子鸡"
                ])
            ),
            1 => format!(
                "{sn}记{}",
                rng.pick(&[
                    "烩面馆",
                    "胡辣汤",
                    "羊肉汤",
                    "牛肉面",
                    "饺子馆",
                    "包子铺",
                    "卤面馆",
                    "烧烤"
                ])
            ),
            2 => format!(
                "老{sn}家{}",
                rng.pick(&["家常菜", "面馆", "砂锅", "水煎包", "豆腐脑"])
            ),
            _ => format!(
                "{short_road}{}",
                rng.pick(&["小吃城", "快餐", "面馆", "酒家", "饭庄"])
            ),
        },
        "retail" => match rng.below(3) {
            0 => format!(
                "{}({road}店)",
                rng.pick(&[
                    "华联超市",
                    "丹尼斯便利店",
                    "锅圈食汇",
                    "名创优品",
                    "中国移动营业厅",
                    "张仲景大药房",
                    "大参林药店",
                    "好想来零食"
                ])
            ),
            1 => format!(
                "{sn}氏{}",
                rng.pick(&[
                    "五金店",
                    "烟酒店",
                    "服装店",
                    "水果店",
                    "粮油店",
                    "日杂店",
                    "电动车行",
                    "手机维修"
                ])
            ),
            _ => format!(
                "{short_road}{}",
                rng.pick(&["便利店", "文具店", "眼镜店", "茶叶店", "花店", "理发店"])
            ),
        },
        "market_stall" => format!("{short_road}农贸市场{}号摊位", serial % 200 + 1),
        "school" => match rng.below(3) {
            0 => format!("郑州市{short_road}小学"),
            1 => format!("{short_road}幼儿园"),
            _ => format!("郑州市第{}中学", serial % 120 + 1),
        },
        "hospital" => match rng.below(3) {
            0 => format!("{short_road}社区卫生服务中心"),
            1 => format!("{sn}氏诊所"),
            _ => format!("郑州市第{}人民医院({short_road}院区)", serial % 16 + 1),
        },
        "office" => match rng.below(3) {
            0 => format!(
                "郑州{}{}有限公司",
                rng.pick(&[
                    "华信", "中原", "嵩山", "绿城", "商都", "天地", "正弘", "金博"
                ]),
                rng.pick(&["科技", "商贸", "物业服务", "建设工程", "文化传媒"])
            ),
            1 => format!(
                "{}({road}支行)",
                rng.pick(&[
                    "中国工商银行",
                    "中国建设银行",
                    "郑州银行",
                    "中原银行",
                    "中国邮政储蓄银行"
                ])
            ),
            _ => format!(
                "{short_road}{}",
                rng.pick(&["物业服务中心", "派出所", "邮政所", "供电营业所"])
            ),
        },
        "hotel" => format!(
            "{}({road}店)",
            rng.pick(&[
                "如家酒店",
                "汉庭酒店",
                "7天酒店",
                "锦江之星",
                "格林豪泰",
                "维也纳酒店"
            ])
        ),
        "auto_repair" => format!(
            "{sn}氏{}",
            rng.pick(&["汽修", "汽车美容", "轮胎店", "电动车维修"])
        ),
        _ => format!("{sn}记商行"),
    }
}
